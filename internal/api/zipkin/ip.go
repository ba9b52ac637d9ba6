package zipkin

import "net/netip"

// parseIP returns 4 or 6 for an IPv4 or IPv6 address, 0 otherwise.
func parseIP(s string) int {
	ip, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return 0
	case ip.Is4():
		return 4
	}
	return 6
}
