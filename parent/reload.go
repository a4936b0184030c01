package parent

import (
	"bytes"
	"reflect"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// reload re-reads the configuration (SIGHUP, dhcp6leasectl reload; SPEC
// 11). A file that does not parse changes nothing: the error, with
// file:line, is logged and returned. A good one goes to the children, which
// apply it uplink by uplink; until the engine says it has asked for every
// change, the policy also accepts the old plan, so that it can remove what
// the old plan configured.
func (d *daemon) reload() error {
	cfg, err := config.Load(d.opts.ConfigFile)
	if err != nil {
		d.log.Error("reload failed, keeping the running configuration", "err", err)
		return err
	}
	if !reflect.DeepEqual(cfg.DUID, d.cfg.DUID) {
		// Every lease is bound to the DUID: changing it means starting
		// over, which a reload must not do behind the operator's back.
		d.log.Warn("reload: a new duid takes effect at the next start")
		cfg.DUID = d.cfg.DUID
	}
	// Only added uplinks start from their lease file; the others keep
	// what the engine holds, and their IAs their IAIDs (SPEC 4).
	added := d.readLeases(cfg, func(name string) bool { return d.cfg.Uplink(name) == nil })
	prev := previousIAs(added)
	for _, u := range d.cfg.Uplinks {
		for _, ia := range u.IAs {
			prev[u.Name] = append(prev[u.Name], config.PreviousIA{IAID: ia.IAID, Downstreams: ia.Downstreams()})
		}
		if a := u.Address; a != nil {
			prev[u.Name] = append(prev[u.Name], config.PreviousIA{IAID: a.IAID, Address: true})
		}
	}
	cfg.InheritIAIDs(prev)
	var text bytes.Buffer
	if err := cfg.Write(&text); err != nil {
		return err
	}
	leases := leasesToPB(cfg, added)
	d.pol = policy{cfg: cfg, prev: d.cfg}
	d.cfg = cfg
	d.send(d.fe, pb.Type_TYPE_RELOAD, &pb.Config{Text: text.String(), Duid: d.duid})
	d.send(d.en, pb.Type_TYPE_RELOAD, &pb.Config{Text: text.String(), Duid: d.duid, Leases: leases})
	d.log.Info("configuration reloaded", "file", d.opts.ConfigFile)
	return nil
}
