// Package simulator: kiln's additions to Debian's vcsim (govmomi 0.24).
//
// test/src/vcsim.ts copies govmomi's simulator package into the Go build's first GOPATH entry and adds every .go
// file of this directory to it, so methods vcsim 0.24 lacks can be added to its managed objects (Go allows methods
// only in the type's own package). Each addition follows the vSphere API reference (vim25) for the method, keeps
// vcsim's behaviour otherwise, and is listed here:
//
//   - vm_export.go: VirtualMachine.ExportVm (an HttpNfcLease over the VM's disks) and OvfManager.CreateDescriptor
//   - usb_scancodes.go: VirtualMachine.PutUsbScanCodes (records the key events in extraConfig "kiln.usbScanCodes")
package simulator
