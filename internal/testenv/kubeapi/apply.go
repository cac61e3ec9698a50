package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Apply server-side applies each object for real (strict field validation,
// field manager novadev), for tests that need objects to exist and act:
// RBAC roles and bindings, admission policies. It returns one error per
// rejected object, named as DryRunApply names them. An admission policy
// applied this way is enforced only once the apiserver's informer has seen
// it (about a second): poll with a dry-run request before relying on it.
func (e *Env) Apply(ctx context.Context, objs []*unstructured.Unstructured) []error {
	var errs []error
	for _, o := range objs {
		if err := e.apply(ctx, o, false); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref(o), err))
		}
	}
	return errs
}

// apply server-side applies o (dryRun=All when dry), field manager
// novadev, strict field validation, forced: the tests check manifests and
// objects, not field ownership against objects other tests wrote.
// Namespaced objects without a namespace go to "default", as with kubectl.
func (e *Env) apply(ctx context.Context, o *unstructured.Unstructured, dry bool) error {
	if o.GetName() == "" {
		return errors.New("metadata.name is empty")
	}
	mapping, err := e.restMapping(ctx, o.GroupVersionKind())
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = e.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		ri = e.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts)
	return err
}
