// kiln's addition to vcsim 0.24: VirtualMachine.ExportVm and OvfManager.CreateDescriptor (OVF export), which
// Debian's govmomi simulator lacks, written from the vSphere API reference (vim25):
//
//   - ExportVm (VirtualMachine, template or not) refuses a powered-on VM (InvalidPowerState) and returns a ready
//     HttpNfcLease whose info lists one deviceUrl per disk and per ISO image attached to a CD-ROM. As vCenter does,
//     urls name the lease and a generated file name (disk-0.vmdk, file-1.iso), targetId is empty, and a disk's key
//     is /<vm>/<ControllerType><bus>:<unit>. GET of a url returns the bytes vcsim stores for the device's backing
//     file on its datastore directory, while the lease exists (HttpNfcLeaseComplete and HttpNfcLeaseAbort end it).
//     vcsim 0.24's own ServeNFC cannot serve a GET (it copies into a nil writer), and the server's mux is out of
//     reach here, so the urls point at a second HTTPS listener on 127.0.0.1 standing in for the ESXi host's NFC
//     service (vCenter, too, hands out urls on the host that holds the VM).
//   - CreateDescriptor returns an OVF 1.0 envelope built from the VM's config: References (the cdp.ovfFiles the
//     client downloaded, matched to devices by deviceId), DiskSection, NetworkSection, and one VirtualSystem with
//     its OperatingSystemSection and VirtualHardwareSection (System type vmx-NN, CPUs, memory, controllers, disks,
//     CD-ROMs, NICs, each a CIM RASD Item). exportOption "mac" adds NIC addresses, "uuid" the BIOS UUID,
//     "extraconfig" the VM's extraConfig, "nodevicesubtypes" drops ResourceSubType of CD-ROMs.
package simulator

import (
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator/internal"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// exportDeviceKey is the deviceUrl key vCenter gives a disk in an export lease: /<vm>/<ControllerType><bus>:<unit>.
func exportDeviceKey(vm *VirtualMachine, devices object.VirtualDeviceList, d *types.VirtualDevice) string {
	ctrlType, bus := "Controller", int32(0)
	if c := devices.FindByKey(d.ControllerKey); c != nil {
		ctrlType = reflect.TypeOf(c).Elem().Name()
		if vc, ok := c.(types.BaseVirtualController); ok {
			bus = vc.GetVirtualController().BusNumber
		}
	}
	unit := int32(0)
	if d.UnitNumber != nil {
		unit = *d.UnitNumber
	}
	return fmt.Sprintf("/%s/%s%d:%d", vm.Self.Value, ctrlType, bus, unit)
}

// vmDatacenter is the datacenter a VM (or template) belongs to.
func vmDatacenter(vm *VirtualMachine) *Datacenter {
	return Map.getEntityDatacenter(Map.Get(*vm.Parent).(mo.Entity))
}

var (
	exportNfcOnce sync.Once
	exportNfcHost string
)

// exportNfcServer starts (once) the HTTPS listener that serves export leases: GET /nfc/<lease>/<file>.
func exportNfcServer() string {
	exportNfcOnce.Do(func() {
		s := internal.NewUnstartedServer(http.HandlerFunc(serveExportNFC), "127.0.0.1:0")
		s.StartTLS()
		exportNfcHost = s.Listener.Addr().String()
	})
	return exportNfcHost
}

func serveExportNFC(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(r.URL.Path, "/")
	if len(p) < 2 || r.Method != http.MethodGet {
		http.Error(w, "GET /nfc/<lease>/<file>", http.StatusNotFound)
		return
	}
	id, name := p[len(p)-2], p[len(p)-1]
	l, ok := nfcLease.Load(types.ManagedObjectReference{Type: "HttpNfcLease", Value: id})
	if !ok {
		log.Printf("export nfc: no lease %s", id)
		http.NotFound(w, r)
		return
	}
	file, ok := l.(*HttpNfcLease).files[name]
	if !ok {
		log.Printf("export nfc: lease %s has no file %s", id, name)
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		log.Printf("export nfc: %s", err)
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, f)
}

// requirePowerState is the InvalidPowerState fault vCenter answers a method that needs the VM in `state`, or nil.
func (vm *VirtualMachine) requirePowerState(state types.VirtualMachinePowerState) *soap.Fault {
	if vm.Runtime.PowerState == state {
		return nil
	}
	return Fault("", &types.InvalidPowerState{RequestedState: state, ExistingState: vm.Runtime.PowerState})
}

func (vm *VirtualMachine) ExportVm(ctx *Context, req *types.ExportVm) soap.HasFault {
	body := new(methods.ExportVmBody)
	if fault := vm.requirePowerState(types.VirtualMachinePowerStatePoweredOff); fault != nil {
		body.Fault_ = fault
		return body
	}

	lease := NewHttpNfcLease(ctx, vm.Self)
	ref := lease.Reference()
	lease.Info.Lease = ref
	dc := vmDatacenter(vm)
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	ndisk, nfile := 0, 0
	for _, d := range devices {
		var fileName, name, key string
		disk := false
		switch x := d.(type) {
		case *types.VirtualDisk:
			info, ok := x.Backing.(types.BaseVirtualDeviceFileBackingInfo)
			if !ok {
				continue
			}
			fileName = info.GetVirtualDeviceFileBackingInfo().FileName
			name = fmt.Sprintf("disk-%d.vmdk", ndisk)
			ndisk++
			key = exportDeviceKey(vm, devices, x.GetVirtualDevice())
			disk = true
			lease.Info.TotalDiskCapacityInKB += x.CapacityInKB
		case *types.VirtualCdrom:
			iso, ok := x.Backing.(*types.VirtualCdromIsoBackingInfo)
			if !ok || iso.FileName == "" {
				continue
			}
			fileName = iso.FileName
			name = fmt.Sprintf("file-%d%s", nfile, path.Ext(iso.FileName))
			nfile++
			key = exportDeviceKey(vm, devices, x.GetVirtualDevice())
		default:
			continue
		}
		local, fault := Map.FileManager().resolve(&dc.Self, fileName)
		if fault != nil {
			ctx.Session.Remove(ref)
			nfcLease.Delete(ref)
			body.Fault_ = Fault("", fault)
			return body
		}
		var size int64
		if st, err := os.Stat(local); err == nil {
			size = st.Size()
		}
		lease.files[name] = local
		lease.Info.DeviceUrl = append(lease.Info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:      key,
			Url:      (&url.URL{Scheme: "https", Host: exportNfcServer(), Path: nfcPrefix + path.Join(ref.Value, name)}).String(),
			Disk:     types.NewBool(disk),
			FileSize: size,
		})
	}

	body.Res = &types.ExportVmResponse{Returnval: ref}
	return body
}

// ovfWriter builds an OVF document; every text and attribute value goes through esc.
type ovfWriter struct {
	b strings.Builder
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (w *ovfWriter) line(format string, args ...interface{}) {
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// rasdItem is one CIM_ResourceAllocationSettingData Item, its elements in the schema's alphabetical order.
type rasdItem struct {
	Address, AddressOnParent, AllocationUnits, AutomaticAllocation, Connection, Description, ElementName string
	HostResource, InstanceID, Parent, ResourceSubType, ResourceType, VirtualQuantity                     string
	required                                                                                             bool
	config                                                                                               [][2]string
}

func (w *ovfWriter) item(it rasdItem) {
	if it.required {
		w.line("      <Item>")
	} else {
		w.line(`      <Item ovf:required="false">`)
	}
	for _, kv := range [][2]string{
		{"Address", it.Address}, {"AddressOnParent", it.AddressOnParent}, {"AllocationUnits", it.AllocationUnits},
		{"AutomaticAllocation", it.AutomaticAllocation}, {"Connection", it.Connection}, {"Description", it.Description},
		{"ElementName", it.ElementName}, {"HostResource", it.HostResource}, {"InstanceID", it.InstanceID},
		{"Parent", it.Parent}, {"ResourceSubType", it.ResourceSubType}, {"ResourceType", it.ResourceType},
		{"VirtualQuantity", it.VirtualQuantity},
	} {
		if kv[1] != "" {
			w.line("        <rasd:%s>%s</rasd:%s>", kv[0], esc(kv[1]), kv[0])
		}
	}
	for _, kv := range it.config {
		w.line(`        <vmw:Config ovf:required="false" vmw:key="%s" vmw:value="%s"/>`, esc(kv[0]), esc(kv[1]))
	}
	w.line("      </Item>")
}

// controllerRasd is the RASD ResourceType and ResourceSubType of a disk controller (DSP1041 resource types).
func controllerRasd(c types.BaseVirtualDevice) (string, string, string, bool) {
	switch c.(type) {
	case *types.VirtualLsiLogicController:
		return "6", "lsilogic", "SCSI Controller", true
	case *types.VirtualLsiLogicSASController:
		return "6", "lsilogicsas", "SCSI Controller", true
	case *types.ParaVirtualSCSIController:
		return "6", "VirtualSCSI", "SCSI Controller", true
	case *types.VirtualBusLogicController:
		return "6", "buslogic", "SCSI Controller", true
	case *types.VirtualIDEController:
		return "5", "", "IDE Controller", true
	case *types.VirtualAHCIController:
		return "20", "vmware.sata.ahci", "SATA Controller", true
	case *types.VirtualNVMEController:
		return "20", "vmware.nvme.controller", "NVMe Controller", true
	}
	return "", "", "", false
}

func nicSubType(d types.BaseVirtualDevice) string {
	switch d.(type) {
	case *types.VirtualVmxnet3:
		return "VmxNet3"
	case *types.VirtualE1000:
		return "E1000"
	case *types.VirtualE1000e:
		return "E1000e"
	case *types.VirtualPCNet32:
		return "PCNet32"
	case *types.VirtualVmxnet2:
		return "VmxNet2"
	}
	return "VmxNet3"
}

func nicNetwork(b types.BaseVirtualDeviceBackingInfo) string {
	switch x := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return x.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		if pg, ok := Map.Get(types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: x.Port.PortgroupKey}).(*DistributedVirtualPortgroup); ok {
			return pg.Name
		}
		return x.Port.PortgroupKey
	}
	return ""
}

func (m *OvfManager) CreateDescriptor(ctx *Context, req *types.CreateDescriptor) soap.HasFault {
	body := new(methods.CreateDescriptorBody)
	vm, ok := Map.Get(req.Obj).(*VirtualMachine)
	if !ok {
		body.Fault_ = Fault("", &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	cdp := req.Cdp
	options := map[string]bool{}
	for _, o := range cdp.ExportOption {
		options[o] = true
	}
	name := cdp.Name
	if name == "" {
		name = vm.Name
	}
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	files := map[string]types.OvfFile{}
	for _, f := range cdp.OvfFiles {
		files[f.DeviceId] = f
	}

	w := &ovfWriter{}
	w.line(`<?xml version="1.0" encoding="UTF-8"?>`)
	w.line(`<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" ` +
		`xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" ` +
		`xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" ` +
		`xmlns:vmw="http://www.vmware.com/schema/ovf" ` +
		`xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" ` +
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)

	// References and DiskSection: the files the client exported, by the device they came from.
	fileIDs := map[string]string{}
	diskIDs := map[int32]string{}
	w.line("  <References>")
	nref := 0
	for _, d := range devices {
		// Only the kinds ExportVm leases (a CD-ROM may share a disk's controller and unit number in vcsim).
		switch x := d.(type) {
		case *types.VirtualDisk:
		case *types.VirtualCdrom:
			if _, iso := x.Backing.(*types.VirtualCdromIsoBackingInfo); !iso {
				continue
			}
		default:
			continue
		}
		key := exportDeviceKey(vm, devices, d.GetVirtualDevice())
		f, ok := files[key]
		if !ok {
			continue
		}
		nref++
		id := fmt.Sprintf("file%d", nref)
		fileIDs[key] = id
		w.line(`    <File ovf:href="%s" ovf:id="%s" ovf:size="%d"/>`, esc(f.Path), id, f.Size)
	}
	w.line("  </References>")
	w.line("  <DiskSection>")
	w.line("    <Info>Virtual disk information</Info>")
	ndisk := 0
	for _, d := range devices {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		key := exportDeviceKey(vm, devices, disk.GetVirtualDevice())
		fileID, ok := fileIDs[key]
		if !ok {
			continue
		}
		ndisk++
		id := fmt.Sprintf("vmdisk%d", ndisk)
		diskIDs[disk.Key] = id
		w.line(`    <Disk ovf:capacity="%d" ovf:capacityAllocationUnits="byte * 2^10" ovf:diskId="%s" ovf:fileRef="%s" `+
			`ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="%d"/>`,
			disk.CapacityInKB, id, fileID, files[key].Size)
	}
	w.line("  </DiskSection>")

	// NetworkSection: the networks the NICs connect to.
	var networks []string
	seen := map[string]bool{}
	for _, d := range devices {
		if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
			n := nicNetwork(nic.GetVirtualEthernetCard().Backing)
			if n != "" && !seen[n] {
				seen[n] = true
				networks = append(networks, n)
			}
		}
	}
	sort.Strings(networks)
	w.line("  <NetworkSection>")
	w.line("    <Info>The list of logical networks</Info>")
	for _, n := range networks {
		w.line(`    <Network ovf:name="%s">`, esc(n))
		w.line("      <Description>The %s network</Description>", esc(n))
		w.line("    </Network>")
	}
	w.line("  </NetworkSection>")

	w.line(`  <VirtualSystem ovf:id="%s">`, esc(name))
	w.line("    <Info>A virtual machine</Info>")
	w.line("    <Name>%s</Name>", esc(name))
	if cdp.Description != "" {
		w.line("    <AnnotationSection>")
		w.line("      <Info>A human-readable annotation</Info>")
		w.line("      <Annotation>%s</Annotation>", esc(cdp.Description))
		w.line("    </AnnotationSection>")
	}
	w.line(`    <OperatingSystemSection ovf:id="%d" vmw:osType="%s">`, 1, esc(vm.Config.GuestId))
	w.line("      <Info>The kind of installed guest operating system</Info>")
	w.line("    </OperatingSystemSection>")
	w.line("    <VirtualHardwareSection>")
	w.line("      <Info>Virtual hardware requirements</Info>")
	w.line("      <System>")
	w.line("        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>")
	w.line("        <vssd:InstanceID>0</vssd:InstanceID>")
	w.line("        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>", esc(name))
	version := vm.Config.Version
	if version == "" {
		version = "vmx-13"
	}
	w.line("        <vssd:VirtualSystemType>%s</vssd:VirtualSystemType>", esc(version))
	w.line("      </System>")

	hw := vm.Config.Hardware
	cores := hw.NumCoresPerSocket
	if cores == 0 {
		cores = 1
	}
	instance := 0
	next := func() string { instance++; return fmt.Sprint(instance) }
	w.item(rasdItem{
		AllocationUnits: "hertz * 10^6", Description: "Number of Virtual CPUs", ElementName: fmt.Sprintf("%d virtual CPU(s)", hw.NumCPU),
		InstanceID: next(), ResourceType: "3", VirtualQuantity: fmt.Sprint(hw.NumCPU), required: true,
		config: [][2]string{{"cpu.coresPerSocket", fmt.Sprint(cores)}},
	})
	w.item(rasdItem{
		AllocationUnits: "byte * 2^20", Description: "Memory Size", ElementName: fmt.Sprintf("%dMB of memory", hw.MemoryMB),
		InstanceID: next(), ResourceType: "4", VirtualQuantity: fmt.Sprint(hw.MemoryMB), required: true,
	})
	controllerIDs := map[int32]string{}
	for _, d := range devices {
		rt, sub, label, ok := controllerRasd(d)
		if !ok {
			continue
		}
		bus := d.(types.BaseVirtualController).GetVirtualController().BusNumber
		id := next()
		controllerIDs[d.GetVirtualDevice().Key] = id
		w.item(rasdItem{
			Address: fmt.Sprint(bus), Description: label, ElementName: fmt.Sprintf("%s %d", label, bus),
			InstanceID: id, ResourceSubType: sub, ResourceType: rt, required: true,
		})
	}
	nnic, nhd := 0, 0
	for _, d := range devices {
		v := d.GetVirtualDevice()
		unit := ""
		if v.UnitNumber != nil {
			unit = fmt.Sprint(*v.UnitNumber)
		}
		switch x := d.(type) {
		case *types.VirtualDisk:
			id, ok := diskIDs[x.Key]
			if !ok {
				continue
			}
			nhd++
			w.item(rasdItem{
				AddressOnParent: unit, ElementName: fmt.Sprintf("Hard disk %d", nhd), HostResource: "ovf:/disk/" + id,
				InstanceID: next(), Parent: controllerIDs[v.ControllerKey], ResourceType: "17", required: true,
			})
		case *types.VirtualCdrom:
			sub := "vmware.cdrom.remotepassthrough"
			if _, iso := x.Backing.(*types.VirtualCdromIsoBackingInfo); iso {
				sub = "vmware.cdrom.iso"
			}
			if options["nodevicesubtypes"] {
				sub = ""
			}
			w.item(rasdItem{
				AddressOnParent: unit, AutomaticAllocation: "false", ElementName: "CD/DVD drive " + unit,
				InstanceID: next(), Parent: controllerIDs[v.ControllerKey], ResourceSubType: sub, ResourceType: "15",
			})
		case types.BaseVirtualEthernetCard:
			card := x.GetVirtualEthernetCard()
			nnic++
			it := rasdItem{
				AddressOnParent: unit, AutomaticAllocation: "true", Connection: nicNetwork(card.Backing),
				Description: fmt.Sprintf("%s ethernet adapter on %q", nicSubType(d), nicNetwork(card.Backing)),
				ElementName: fmt.Sprintf("Network adapter %d", nnic), InstanceID: next(), ResourceSubType: nicSubType(d),
				ResourceType: "10",
			}
			if options["mac"] {
				it.Address = card.MacAddress
			}
			w.item(it)
		}
	}
	if options["uuid"] {
		w.line(`      <vmw:Config ovf:required="false" vmw:key="uuid" vmw:value="%s"/>`, esc(vm.Config.Uuid))
	}
	if options["extraconfig"] {
		for _, o := range vm.Config.ExtraConfig {
			v := o.GetOptionValue()
			w.line(`      <vmw:ExtraConfig ovf:required="false" vmw:key="%s" vmw:value="%s"/>`, esc(v.Key), esc(fmt.Sprint(v.Value)))
		}
	}
	w.line("    </VirtualHardwareSection>")
	w.line("  </VirtualSystem>")
	w.line("</Envelope>")

	body.Res = &types.CreateDescriptorResponse{Returnval: types.OvfCreateDescriptorResult{
		OvfDescriptor:     w.b.String(),
		IncludeImageFiles: cdp.IncludeImageFiles,
	}}
	return body
}
