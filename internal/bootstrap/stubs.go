package bootstrap

import (
	"context"
	"errors"

	"github.com/novadev/novadev/internal/catalog"
)

// ProtoValidate is not implemented yet.
type ProtoValidate struct{}

// Name returns the step name.
func (ProtoValidate) Name() string { return catalog.StepProtoValidate }

// Run returns an error until the step lands.
func (ProtoValidate) Run(context.Context, *catalog.Catalog, Targets, func(string, ...any)) error {
	return errors.New("not yet")
}
