package simulator

// VirtualMachine.PutUsbScanCodes (vSphere API 6.5+): injects USB HID key events into the VM's keyboard and returns
// how many it injected. vcsim 0.24 has no keyboard, so kiln's addition records what a guest would have received:
//
//   - each call appends its events to the VM's extraConfig entry "kiln.usbScanCodes" (space-separated, oldest
//     first), so a test reads the sequence back through the API (PropertyCollector, config.extraConfig);
//   - each event is also logged to stderr as one line: `PutUsbScanCodes <vm name>: <event>`.
//
// An event is written `0x<usbHidCode, 8 hex digits>` followed by `/<modifier>=<0|1>` for each modifier the caller set
// (unset ones are left out, so "false" and "not sent" stay distinguishable), in the WSDL's order: lc ls la lg rc rs
// ra rg (left/right control, shift, alt, GUI). Example: `0x00040007/lc=0/ls=1/la=0` is shift+a as Packer sends it.
//
// As on vCenter, a VM that is not powered on has no keyboard: the call fails with InvalidPowerState.

import (
	"fmt"
	"log"
	"strings"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// kilnUsbScanCodesKey is the extraConfig key the received events accumulate in.
const kilnUsbScanCodesKey = "kiln.usbScanCodes"

func kilnFormatUsbEvent(e types.UsbScanCodeSpecKeyEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "0x%08x", uint32(e.UsbHidCode))
	if m := e.Modifiers; m != nil {
		for _, f := range []struct {
			name string
			v    *bool
		}{
			{"lc", m.LeftControl}, {"ls", m.LeftShift}, {"la", m.LeftAlt}, {"lg", m.LeftGui},
			{"rc", m.RightControl}, {"rs", m.RightShift}, {"ra", m.RightAlt}, {"rg", m.RightGui},
		} {
			if f.v == nil {
				continue
			}
			bit := 0
			if *f.v {
				bit = 1
			}
			fmt.Fprintf(&b, "/%s=%d", f.name, bit)
		}
	}
	return b.String()
}

func (vm *VirtualMachine) PutUsbScanCodes(ctx *Context, req *types.PutUsbScanCodes) soap.HasFault {
	body := new(methods.PutUsbScanCodesBody)

	if fault := vm.requirePowerState(types.VirtualMachinePowerStatePoweredOn); fault != nil {
		body.Fault_ = fault
		return body
	}

	events := make([]string, 0, len(req.Spec.KeyEvents))
	for _, e := range req.Spec.KeyEvents {
		s := kilnFormatUsbEvent(e)
		log.Printf("PutUsbScanCodes %s: %s", vm.Name, s)
		events = append(events, s)
	}

	if len(events) > 0 {
		joined := strings.Join(events, " ")
		found := false
		for _, o := range vm.Config.ExtraConfig {
			if opt := o.GetOptionValue(); opt.Key == kilnUsbScanCodesKey {
				prev, _ := opt.Value.(string)
				if prev != "" {
					joined = prev + " " + joined
				}
				opt.Value = joined
				found = true
				break
			}
		}
		if !found {
			vm.Config.ExtraConfig = append(vm.Config.ExtraConfig, &types.OptionValue{Key: kilnUsbScanCodesKey, Value: joined})
		}
		Map.Update(vm, []types.PropertyChange{{Name: "config.extraConfig", Val: vm.Config.ExtraConfig}})
	}

	body.Res = &types.PutUsbScanCodesResponse{Returnval: int32(len(events))}
	return body
}
