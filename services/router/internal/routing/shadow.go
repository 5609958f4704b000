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

// shadow sends req, for a share of the route's successful calls, to the
// route's shadow candidate in the background. Its answer is recorded
// (usage event and audit record marked shadow, cost included) and never
// returned. Shadow calls take batch capacity and no tenant limits.
func (r *Router) shadow(ctx context.Context, call Call, routeName string, route Route, req provider.Request) {
	sh := route.Shadow
	if sh == nil || rand.Float64() >= sh.Share {
		return
	}
	if sh.Template != nil {
		// The shadow tries another template: render it in place of the
		// route's, which came first in the messages.
		base := req
		if route.Template != nil && len(base.Messages) > 0 {
			base.Messages = base.Messages[1:]
		}
		var err error
		if req, err = r.render(sh.Template, base, call.Variables); err != nil {
			r.logger.Warn("shadow call skipped: template", "route", routeName, "error", err)
			return
		}
	}
	select {
	case r.shadows <- struct{}{}:
	default:
		r.logger.Debug("shadow call skipped: too many in flight", "route", routeName)
		return
	}
	// The shadow outlives the caller's request but keeps its tenant and
	// subject.
	sctx := context.WithoutCancel(ctx)
	go func() {
		defer func() { <-r.shadows }()
		sctx, cancel := context.WithTimeout(sctx, cmp.Or(route.TotalTimeout, DefaultTotalTimeout))
		defer cancel()
		start := r.now()
		c := Candidate{Provider: sh.Provider, Model: sh.Model}
		shadowCall := Call{UseCase: call.UseCase, Priority: Batch}
		out, err := r.attempt(sctx, route, c, req, shadowCall)
		res := out.Result
		res.Route, res.Provider, res.Attempts, res.Shadow = routeName, sh.Provider, 1, true
		res.setTemplate(cmp.Or(sh.Template, route.Template))
		res.Latency = r.now().Sub(start)
		r.record(sctx, shadowCall, res, err)
	}()
}
