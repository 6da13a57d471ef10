package sim

import "context"

// Delivery names one receipt: receiver, origin (peer indexes) and the
// origin's sequence number.
type Delivery struct{ Receiver, Origin, Seq int }

// Outcome is what TestSameCodeSameAnswers compares between the simulator
// and the TCP runtime: each peer's capacity (target degree) and how many
// times each peer delivered each message.
type Outcome struct {
	Targets   []int
	Delivered map[Delivery]int
}

// RunOutcome runs cfg like Run and also returns its Outcome, read from the
// world the run leaves: the cores' targets and the messages' receipt
// bitsets (a duplicate counts once more in Report.Duplicates, not here).
func RunOutcome(ctx context.Context, cfg Config) (*Report, Outcome, error) {
	if err := cfg.validate(); err != nil {
		return nil, Outcome{}, err
	}
	w, err := newWorld(ctx, cfg, nil)
	if err != nil {
		return nil, Outcome{}, err
	}
	defer w.pipe.close()
	if err := w.loop(); err != nil {
		return nil, Outcome{}, err
	}
	out := Outcome{Targets: make([]int, len(w.peers)), Delivered: map[Delivery]int{}}
	for i := range w.peers {
		p := &w.peers[i]
		if p.core != nil {
			out.Targets[i] = p.core.Target()
		}
		for k, gid := range p.pub {
			m := &w.msgs[gid]
			for r := range w.peers {
				if m.got[r/64]&(1<<(r%64)) != 0 {
					out.Delivered[Delivery{Receiver: r, Origin: i, Seq: k + 1}]++
				}
			}
		}
	}
	return w.report(), out, nil
}
