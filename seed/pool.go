// Registry pools: the registered peers, and those with a free slot, each
// with its verified entries first, so that a reply lists proven peers
// before unproven ones (docs/security.md) and still samples in O(reply).

package seed

// pool is a set of entries with O(1) add, remove and uniform sampling.
// Its verified entries are list[:nv], the others list[nv:]; an entry's
// position is entry.pos[slot] (-1: not in the pool).
type pool struct {
	list []*entry
	nv   int
	slot int
}

func (p *pool) has(e *entry) bool { return e.pos[p.slot] >= 0 }

func (p *pool) swap(i, j int) {
	p.list[i], p.list[j] = p.list[j], p.list[i]
	p.list[i].pos[p.slot], p.list[j].pos[p.slot] = i, j
}

// add puts e in the pool, if it is not there, in its part.
func (p *pool) add(e *entry) {
	if p.has(e) {
		return
	}
	e.pos[p.slot] = len(p.list)
	p.list = append(p.list, e)
	if e.verified {
		p.swap(e.pos[p.slot], p.nv)
		p.nv++
	}
}

// remove takes e out of the pool, if it is there.
func (p *pool) remove(e *entry) {
	if !p.has(e) {
		return
	}
	i := e.pos[p.slot]
	if i < p.nv {
		p.nv--
		p.swap(i, p.nv)
		i = p.nv
	}
	last := len(p.list) - 1
	p.swap(i, last)
	p.list[last] = nil
	p.list = p.list[:last]
	e.pos[p.slot] = -1
}

// verify moves e, just verified, into the verified part.
func (p *pool) verify(e *entry) {
	if p.has(e) && e.pos[p.slot] >= p.nv {
		p.swap(e.pos[p.slot], p.nv)
		p.nv++
	}
}

// parts returns the verified entries and the others.
func (p *pool) parts() (verified, unverified []*entry) { return p.list[:p.nv], p.list[p.nv:] }
