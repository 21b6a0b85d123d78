// xfp_driver.h: the DriverEntry/DriverUnload convention of xfp callout plugins.
//
// Mirrors the parts of wdm.h a WFP callout driver touches (DRIVER_OBJECT, DEVICE_OBJECT,
// DRIVER_INITIALIZE, DRIVER_UNLOAD). On Linux a "driver" is a shared object (.so) the xfp host
// dlopen()s:
//
//   extern "C" NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath);
//
//  * The plugin MUST export DriverEntry with C linkage (declare it with XFP_PLUGIN_EXPORT).
//  * Before calling it, the host creates driverObject->DeviceObject; the plugin passes that
//    pointer as `deviceObject` to FwpsCalloutRegister0/1/2 (and to
//    FwpsNetBufferListAssociateContext0). There is no IoCreateDevice.
//  * registryPath is the plugin's name as UTF-16 (there is no registry).
//  * driverObject->XfpParameters is the plugin's parameter string from the host configuration
//    (UTF-8, NUL-terminated, may be empty, never NULL); DriverName is the plugin's name.
//  * DriverEntry sets driverObject->DriverUnload. DriverUnload MUST unregister every callout it
//    registered (FwpsCalloutUnregisterById0/ByKey0) and destroy its injection handles; the host
//    refuses to dlclose() a plugin that still has callouts registered.
//  * A failing NTSTATUS from DriverEntry unloads the plugin (DriverUnload is not called).
//  * IRQL does not exist: classifyFn, notifyFn, flowDeleteFn and completion functions may run on
//    any host thread and must not block (pend instead, wfp-model.md §6.1).
//  * The plugin may export `UINT32 XfpPluginAbiVersion(void)` returning XFP_PLUGIN_ABI_VERSION;
//    the host refuses plugins that report another version.
#ifndef XFP_DRIVER_H
#define XFP_DRIVER_H

#include "xfp_wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

// Version of the plugin ABI: the struct layouts of these headers and the FWPS_FIELDS_* layout.
#define XFP_PLUGIN_ABI_VERSION 1

#ifdef __cplusplus
#define XFP_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define XFP_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef struct DEVICE_OBJECT_ DEVICE_OBJECT;  // opaque, created by the host
typedef DEVICE_OBJECT* PDEVICE_OBJECT;

typedef struct DRIVER_OBJECT_ {
  DEVICE_OBJECT* DeviceObject;                          // set by the host before DriverEntry
  void (*DriverUnload)(struct DRIVER_OBJECT_* driver);  // set by DriverEntry
  const char* DriverName;                               // the plugin's name (UTF-8)
  const char* XfpParameters;                            // host configuration string (UTF-8)
  void* DriverExtension;                                // free for the plugin's use
} DRIVER_OBJECT, *PDRIVER_OBJECT;

typedef NTSTATUS DRIVER_INITIALIZE(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath);
typedef DRIVER_INITIALIZE* PDRIVER_INITIALIZE;
typedef void DRIVER_UNLOAD(DRIVER_OBJECT* driverObject);
typedef DRIVER_UNLOAD* PDRIVER_UNLOAD;

// The symbols a plugin exports (the host looks them up with dlsym).
#define XFP_PLUGIN_ENTRY_SYMBOL "DriverEntry"
#define XFP_PLUGIN_ABI_VERSION_SYMBOL "XfpPluginAbiVersion"
typedef UINT32 XFP_PLUGIN_ABI_VERSION_FN(void);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_DRIVER_H
