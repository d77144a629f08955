package emulator

// Stripe's list limits.
const (
	defaultListLimit = 10
	maxListLimit     = 100
)

// pageParams reads limit (1–100, default 10) and the two cursors, which
// cannot be combined.
func pageParams(p Params) (limit int64, after, before string, err error) {
	limit = defaultListLimit
	if l, ok, perr := p.Int("limit"); perr != nil {
		return 0, "", "", perr
	} else if ok {
		if l < 1 {
			return 0, "", "", InvalidRequest("limit", "This value must be greater than or equal to 1.")
		}
		if l > maxListLimit {
			return 0, "", "", InvalidRequest("limit", "This value must be less than or equal to %d.", maxListLimit)
		}
		limit = l
	}
	after, hasAfter := p.String("starting_after")
	before, hasBefore := p.String("ending_before")
	if hasAfter && hasBefore && after != "" && before != "" {
		return 0, "", "", Exclusive("starting_after", "ending_before")
	}
	return limit, after, before, nil
}

// List answers a list endpoint over kind in the request's account: objects
// for which keep returns true, newest first, paginated with limit,
// starting_after and ending_before exactly as Stripe pages (cursors are
// object ids; a cursor that is not an object of this list is a 404), with
// expand[] applied to each item (data.product).
func (c *Call) List(kind string, keep func(Object) bool) (any, error) {
	p := c.Params()
	limit, after, before, err := pageParams(p)
	if err != nil {
		return nil, err
	}
	expand, err := listExpansions(p.Expand())
	if err != nil {
		return nil, err
	}
	for param, id := range map[string]string{"starting_after": after, "ending_before": before} {
		if id == "" {
			continue
		}
		if _, ok := c.Get(kind, id); !ok {
			return nil, NoSuchObject(c.emu.noun(kind), id, param)
		}
	}

	var page []Object
	hasMore := false
	switch {
	case before != "":
		// The `limit` objects just newer than the cursor, still newest
		// first; has_more says whether even newer ones exist.
		var newer []Object
		c.Scan(kind, func(o Object) bool {
			if o.ID() == before {
				return false
			}
			if keep(o) {
				newer = append(newer, o)
			}
			return true
		})
		if int64(len(newer)) > limit {
			hasMore = true
			newer = newer[int64(len(newer))-limit:]
		}
		page = newer
	default:
		passed := after == ""
		c.Scan(kind, func(o Object) bool {
			if !passed {
				passed = o.ID() == after
				return true
			}
			if !keep(o) {
				return true
			}
			if int64(len(page)) == limit {
				hasMore = true
				return false
			}
			page = append(page, o)
			return true
		})
	}

	data := make([]any, 0, len(page))
	for _, o := range page {
		r, err := c.emu.renderObject(c.Tx, o.Clone(), expand, 0)
		if err != nil {
			return nil, err
		}
		data = append(data, map[string]any(r))
	}
	return Object{"object": "list", "data": data, "has_more": hasMore, "url": c.Req.Path}, nil
}

// createdFilter is Stripe's `created` list filter: either an exact unix
// time or any of created[gt], [gte], [lt], [lte].
type createdFilter struct {
	eq, gt, gte, lt, lte *int64
}

func parseCreatedFilter(p Params) (createdFilter, error) {
	var f createdFilter
	if !p.Has("created") {
		return f, nil
	}
	if v, ok, err := p.Int("created"); err != nil {
		return f, err
	} else if ok {
		f.eq = &v
		return f, nil
	}
	sub, ok := p.Sub("created")
	if !ok {
		return f, InvalidRequest("created", "Invalid timestamp: must be an integer Unix timestamp or a hash of gt, gte, lt, lte.")
	}
	for key, dst := range map[string]**int64{"gt": &f.gt, "gte": &f.gte, "lt": &f.lt, "lte": &f.lte} {
		v, ok, err := sub.Int(key)
		if err != nil {
			return f, err
		}
		if ok {
			vv := v
			*dst = &vv
		}
	}
	return f, nil
}

func (f createdFilter) match(t int64) bool {
	return (f.eq == nil || t == *f.eq) &&
		(f.gt == nil || t > *f.gt) && (f.gte == nil || t >= *f.gte) &&
		(f.lt == nil || t < *f.lt) && (f.lte == nil || t <= *f.lte)
}
