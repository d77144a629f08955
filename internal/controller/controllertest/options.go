package controllertest

import (
	"os"
	"strconv"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/config"
)

// zapLevel is the log level of test managers: errors only, unless TEST_LOG_LEVEL asks for more
// (TEST_LOG_LEVEL=2 shows the reconcilers' V(1) lines).
func zapLevel() zapcore.Level {
	if v, err := strconv.Atoi(os.Getenv("TEST_LOG_LEVEL")); err == nil {
		return zapcore.Level(-v)
	}
	return zapcore.ErrorLevel
}

// ctrlConfig lets several test managers in one process register controllers of the same name (each
// test starts its own manager).
func ctrlConfig() config.Controller {
	skip := true
	return config.Controller{SkipNameValidation: &skip}
}
