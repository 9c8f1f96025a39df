package outbound

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// fakeDNS is a DNS server on loopback UDP answering A and AAAA questions
// from a table; every other name is NXDOMAIN. It lets the SSRF cases run
// through a real *net.Resolver without any query leaving the machine.
func fakeDNS(t *testing.T, table map[string][]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], table); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr) // always the fake server, never the system's
	}}
}

// dnsAnswer builds the response to one query (RFC 1035 section 4).
func dnsAnswer(q []byte, table map[string][]string) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	i, labels := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	name := strings.ToLower(strings.Join(labels, "."))
	ips, known := table[name]
	var answers [][]byte
	for _, s := range ips {
		ip := netip.MustParseAddr(s)
		var rtype uint16
		var rdata []byte
		switch {
		case ip.Is4() && qtype == 1:
			rtype, rdata = 1, ip.AsSlice()
		case ip.Is6() && qtype == 28:
			rtype, rdata = 28, ip.AsSlice()
		default:
			continue
		}
		rr := []byte{0xc0, 12}
		rr = binary.BigEndian.AppendUint16(rr, rtype)
		rr = binary.BigEndian.AppendUint16(rr, 1)
		rr = binary.BigEndian.AppendUint32(rr, 60)
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(rdata)))
		answers = append(answers, append(rr, rdata...))
	}
	flags := uint16(0x8180) // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	out := append([]byte{}, q[0:2]...)
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(answers)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, question...)
	for _, a := range answers {
		out = append(out, a...)
	}
	return out
}

// TestSSRFThroughRealResolver runs the DNS cases through net.Resolver and a
// DNS server on loopback: the answers are real DNS messages, decoded by Go.
func TestSSRFThroughRealResolver(t *testing.T) {
	res := fakeDNS(t, map[string][]string{
		"private.example":  {"10.0.0.7"},
		"metadata.example": {"169.254.169.254"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"mixed6.example":   {"93.184.216.34", "fd00::1"},
		"public.example":   {"93.184.216.34"},
	})
	tests := []struct {
		give       string
		wantPolicy bool
	}{
		{"https://private.example/", true},
		{"https://metadata.example/latest/meta-data/", true},
		{"https://mapped.example/", true},
		{"https://mixed.example/", true},
		{"https://mixed6.example/", true},
		{"https://public.example/", false}, // allowed by policy; the recorder refuses the connection
		{"https://absent.example/", false}, // NXDOMAIN: unreachable
	}
	cl, rec := newTestClient(t, Config{Resolver: res})
	for _, tt := range tests {
		_, err := cl.Get(context.Background(), tt.give)
		var pe *PolicyError
		var ue *UnreachableError
		switch {
		case tt.wantPolicy && (!errors.As(err, &pe) || pe.Reason != ReasonAddress):
			t.Errorf("%s: got %v, want an address refusal", tt.give, err)
		case !tt.wantPolicy && (errors.As(err, &pe) || !errors.As(err, &ue)):
			t.Errorf("%s: got %v, want unreachable", tt.give, err)
		}
	}
	if len(rec.outbound) != 1 || rec.outbound[0] != "93.184.216.34:443" {
		t.Errorf("got non-loopback addresses past the policy %v, want only 93.184.216.34:443 (vetoed by the test)", rec.outbound)
	}
}
