// The C translation unit layout_check.c reports sizes/offsets as the C compiler sees them.
#ifndef XFP_TESTS_UNIT_API_LAYOUT_CHECK_H
#define XFP_TESTS_UNIT_API_LAYOUT_CHECK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum XfpApiLayoutItem_ {
  kXfpLayoutFwpValue0,
  kXfpLayoutClassifyOut0,
  kXfpLayoutIncomingValues0,
  kXfpLayoutFilter1,
  kXfpLayoutMetadata0,
  kXfpLayoutMetadataSubProcessTag,
  kXfpLayoutConnectRequest0,
  kXfpLayoutAleEndpointProperties0,
  kXfpLayoutProviderContext2,
  kXfpLayoutDriverObject,
  kXfpLayoutExampleCalloutFlags,
  kXfpLayoutFwpmSession0,
  kXfpLayoutFwpmFilter0,
  kXfpLayoutFwpmFilter0EffectiveWeight,
  kXfpLayoutFwpmFilterEnumTemplate0,
  kXfpLayoutFwpmNetEventHeader1,
  kXfpLayoutFwpmNetEvent1,
  kXfpLayoutFwpmNetEvent1Union,
  kXfpLayoutItemCount
} XfpApiLayoutItem;

size_t xfpApiCLayout(XfpApiLayoutItem item);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_TESTS_UNIT_API_LAYOUT_CHECK_H
