package config

import "slices"

// Uplink returns the uplink called name, or nil.
func (c *Config) Uplink(name string) *Uplink {
	for _, u := range c.Uplinks {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Downstreams returns the names of u's downstream interfaces, without
// reserves, in plan order: IA by IA, entry by entry.
func (u *Uplink) Downstreams() []string {
	var names []string
	for _, ia := range u.IAs {
		names = append(names, ia.Downstreams()...)
	}
	return names
}

// Downstreams returns the names of ia's downstream interfaces, without
// reserves, in plan order.
func (ia *IA) Downstreams() []string {
	var names []string
	for _, e := range ia.Entries {
		if e.Name != "" {
			names = append(names, e.Name)
		}
	}
	return names
}

// all returns u's IA_PDs and its IA_NA, if any.
func (u *Uplink) all() []*IA {
	if u.Address == nil {
		return u.IAs
	}
	return append(slices.Clone(u.IAs), u.Address)
}
