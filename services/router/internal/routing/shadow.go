package routing

import (
	"cmp"
	"context"
	"math/rand/v2"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// maxShadowsInFlight bounds the shadow calls running at once; a call that
// would be shadowed while they are all busy is not.
const maxShadowsInFlight = 8

// shadow sends the call, for a share of the route's successful calls, to
// the route's shadow candidate in the background, rendered with the
// shadow's template or else the route's from prepared (the request before
// rendering). Its answer is recorded (usage event and audit record marked
// shadow, cost included) and never returned. Shadow calls take batch
// capacity and no tenant limits.
func (r *Router) shadow(ctx context.Context, call Call, routeName string, route Route, prepared provider.Request) {
	sh := route.Shadow
	if sh == nil || rand.Float64() >= sh.Share {
		return
	}
	tpl := cmp.Or(sh.Template, route.Template)
	req, err := r.render(tpl, prepared, call.Variables)
	if err != nil {
		r.logger.Warn("shadow call skipped: template", "route", routeName, "error", err)
		return
	}
	select {
	case r.shadows <- struct{}{}:
	default:
		r.logger.Debug("shadow call skipped: too many in flight", "route", routeName)
		return
	}
	// The shadow outlives the caller's request but keeps its tenant and
	// subject. Its work is a method of its own, so that the arguments are
	// copied only when a shadow runs (a closure would move them to the
	// heap on every call).
	go r.runShadow(context.WithoutCancel(ctx), call.UseCase, routeName, route, req, tpl)
}

// runShadow makes one shadow call and records it.
func (r *Router) runShadow(ctx context.Context, useCase, routeName string, route Route, req provider.Request, tpl *TemplateRef) {
	defer func() { <-r.shadows }()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(route.TotalTimeout, DefaultTotalTimeout))
	defer cancel()
	sh := route.Shadow
	start := r.now()
	c := Candidate{Provider: sh.Provider, Model: sh.Model}
	shadowCall := Call{UseCase: useCase, Priority: Batch}
	out, err := r.attempt(ctx, route, c, req, shadowCall)
	res := out.Result
	res.Route, res.Provider, res.Attempts, res.Shadow = routeName, sh.Provider, 1, true
	res.setTemplate(tpl)
	res.Latency = r.now().Sub(start)
	r.record(ctx, shadowCall, res, err)
}
