package stripeapi

import (
	"fmt"

	"github.com/go-logr/logr"
)

// leveledLogger adapts logr to stripe-go's LeveledLoggerInterface. Errors and warnings go to V(1):
// they are also returned, and logged by the reconciler with context; a 404 is not worth an error
// line. Debug lines are dropped: stripe-go logs whole response bodies at that level, and a webhook
// endpoint's body holds its signing secret.
type leveledLogger struct{ log logr.Logger }

func (l leveledLogger) Debugf(string, ...any) {}

func (l leveledLogger) Infof(format string, v ...any) { l.at(2, format, v) }

func (l leveledLogger) Warnf(format string, v ...any) { l.at(1, format, v) }

func (l leveledLogger) Errorf(format string, v ...any) { l.at(1, format, v) }

func (l leveledLogger) at(level int, format string, v []any) {
	if l.log.GetSink() == nil {
		return
	}
	if log := l.log.V(level); log.Enabled() {
		log.Info(fmt.Sprintf(format, v...), "source", "stripe-go")
	}
}
