package emulator

// Request is what a handler knows about the API request it serves.
type Request struct {
	// ID is the request's Request-Id (req_...), also recorded on events.
	ID      string
	Method  string
	Path    string
	Pattern string
	// PathParams holds the {name} segments of the route pattern.
	PathParams map[string]string
	Params     Params
	// Account is the scope: the platform account, or the connected account
	// named by the Stripe-Account header.
	Account string
	// Connected is true when Account is a connected account; events then
	// carry `account`.
	Connected bool
	// IdempotencyKey is the request's key ("" if none), recorded on events.
	IdempotencyKey string
	// Key is the API key the request authenticated with (errors quote it
	// redacted).
	Key string
	// FromDashboard marks an edit made through the control API's Dashboard
	// operation rather than by an API client.
	FromDashboard bool
}

// Call is the context of one handler invocation: the request, the store
// transaction it runs in (embedded, so c.Get/c.Insert/... work directly) and
// the emulator's shared services.
type Call struct {
	*Tx
	Req *Request
	emu *Emulator
}

// Params returns the request's parameters.
func (c *Call) Params() Params { return c.Req.Params }

// PathParam returns the {name} segment of the route.
func (c *Call) PathParam(name string) string { return c.Req.PathParams[name] }

// Lookup returns kind/id in the request's account or Stripe's
// resource_missing error naming param.
func (c *Call) Lookup(kind, id, param string) (Object, error) {
	if obj, ok := c.Get(kind, id); ok {
		return obj, nil
	}
	return nil, NoSuchObject(c.emu.noun(kind), id, param)
}

func (e *Emulator) noun(kind string) string {
	if r := e.resources[kind]; r != nil && r.Noun != "" {
		return r.Noun
	}
	return kind
}

// NewObject starts an object of kind with the fields every Stripe object
// has: a fresh id, `object`, `created` and `livemode`.
func (c *Call) NewObject(kind string) Object {
	prefix := kind
	if r := c.emu.resources[kind]; r != nil {
		prefix = r.IDPrefix
	}
	return Object{
		"id":       NewID(prefix),
		"object":   kind,
		"created":  c.Now().Unix(),
		"livemode": false,
	}
}

// Render returns obj as the API shows it, applying the request's expand[].
func (c *Call) Render(obj Object) (Object, error) {
	return c.emu.renderObject(c.Tx, obj, c.Req.Params.Expand(), 0)
}

// Create stores a new object and emits <kind>.created.
func (c *Call) Create(obj Object) error {
	if err := c.Insert(obj.Kind(), obj); err != nil {
		return err
	}
	return c.Emit(obj.Kind()+".created", obj, nil)
}

// Save stores a changed object and emits <kind>.updated with the changed
// fields as previous_attributes. It reports whether anything changed:
// an update that changes nothing is stored nowhere and emits no event, as
// on Stripe.
func (c *Call) Save(old, updated Object) (bool, error) {
	prev := Diff(old, updated)
	if len(prev) == 0 {
		return false, nil
	}
	if err := c.Update(updated.Kind(), updated); err != nil {
		return false, err
	}
	return true, c.Emit(updated.Kind()+".updated", updated, prev)
}

// Remove deletes an object and emits <kind>.deleted carrying the object as
// it was.
func (c *Call) Remove(obj Object) error {
	if err := c.Delete(obj.Kind(), obj.ID()); err != nil {
		return err
	}
	return c.Emit(obj.Kind()+".deleted", obj, nil)
}

// retrieveByPath is the handler of a plain GET /v1/<objects>/{param}: the object of kind named by the
// path parameter, in the caller's account, rendered with any expansions asked for.
func retrieveByPath(kind, param string) HandlerFunc {
	return func(c *Call) (any, error) {
		obj, err := c.Lookup(kind, c.PathParam(param), param)
		if err != nil {
			return nil, err
		}
		return c.Render(obj)
	}
}
