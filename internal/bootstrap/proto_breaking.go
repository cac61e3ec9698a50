package bootstrap

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile/protoutil"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/novadev/novadev/internal/catalog"
)

// Breaking-change rule categories, as buf names them (strictest first):
// FILE also breaks generated code that moves between files, PACKAGE breaks
// generated code within a package, WIRE_JSON breaks the binary or the JSON
// encoding, WIRE only the binary encoding.
const (
	CategoryFile     = "FILE"
	CategoryPackage  = "PACKAGE"
	CategoryWireJSON = "WIRE_JSON"
	CategoryWire     = "WIRE"
)

// BreakingCategories are the categories protos.breaking may name.
var BreakingCategories = catalog.BreakingCategories

// DefaultBreakingCategory is used when protos.breaking is unset (buf's
// default too).
const DefaultBreakingCategory = CategoryPackage

// ruleCategories is buf's breaking rule set for buf.yaml version v2 (buf
// v1.75.0, bufcheckserver.V2Spec; its CSR category is left out): which
// categories each rule belongs to. The rule IDs are buf's, so a message
// from here and one from `buf breaking` name the same rule.
var ruleCategories = map[string][]string{
	"ENUM_NO_DELETE":      {CategoryFile},
	"EXTENSION_NO_DELETE": {CategoryFile},
	"FILE_NO_DELETE":      {CategoryFile},
	"MESSAGE_NO_DELETE":   {CategoryFile},
	"SERVICE_NO_DELETE":   {CategoryFile},

	"ENUM_SAME_TYPE":                                 {CategoryFile, CategoryPackage},
	"ENUM_VALUE_NO_DELETE":                           {CategoryFile, CategoryPackage},
	"EXTENSION_MESSAGE_NO_DELETE":                    {CategoryFile, CategoryPackage},
	"FIELD_NO_DELETE":                                {CategoryFile, CategoryPackage},
	"FIELD_SAME_CARDINALITY":                         {CategoryFile, CategoryPackage},
	"FIELD_SAME_CPP_STRING_TYPE":                     {CategoryFile, CategoryPackage},
	"FIELD_SAME_JAVA_UTF8_VALIDATION":                {CategoryFile, CategoryPackage},
	"FIELD_SAME_JSTYPE":                              {CategoryFile, CategoryPackage},
	"FIELD_SAME_TYPE":                                {CategoryFile, CategoryPackage},
	"FIELD_SAME_UTF8_VALIDATION":                     {CategoryFile, CategoryPackage},
	"FILE_SAME_CC_ENABLE_ARENAS":                     {CategoryFile, CategoryPackage},
	"FILE_SAME_CC_GENERIC_SERVICES":                  {CategoryFile, CategoryPackage},
	"FILE_SAME_CSHARP_NAMESPACE":                     {CategoryFile, CategoryPackage},
	"FILE_SAME_GO_PACKAGE":                           {CategoryFile, CategoryPackage},
	"FILE_SAME_JAVA_GENERIC_SERVICES":                {CategoryFile, CategoryPackage},
	"FILE_SAME_JAVA_MULTIPLE_FILES":                  {CategoryFile, CategoryPackage},
	"FILE_SAME_JAVA_OUTER_CLASSNAME":                 {CategoryFile, CategoryPackage},
	"FILE_SAME_JAVA_PACKAGE":                         {CategoryFile, CategoryPackage},
	"FILE_SAME_OBJC_CLASS_PREFIX":                    {CategoryFile, CategoryPackage},
	"FILE_SAME_OPTIMIZE_FOR":                         {CategoryFile, CategoryPackage},
	"FILE_SAME_PHP_CLASS_PREFIX":                     {CategoryFile, CategoryPackage},
	"FILE_SAME_PHP_METADATA_NAMESPACE":               {CategoryFile, CategoryPackage},
	"FILE_SAME_PHP_NAMESPACE":                        {CategoryFile, CategoryPackage},
	"FILE_SAME_PY_GENERIC_SERVICES":                  {CategoryFile, CategoryPackage},
	"FILE_SAME_RUBY_PACKAGE":                         {CategoryFile, CategoryPackage},
	"FILE_SAME_SWIFT_PREFIX":                         {CategoryFile, CategoryPackage},
	"FILE_SAME_SYNTAX":                               {CategoryFile, CategoryPackage},
	"MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR": {CategoryFile, CategoryPackage},
	"ONEOF_NO_DELETE":                                {CategoryFile, CategoryPackage},
	"RPC_NO_DELETE":                                  {CategoryFile, CategoryPackage},

	"ENUM_SAME_JSON_FORMAT":    {CategoryFile, CategoryPackage, CategoryWireJSON},
	"ENUM_VALUE_SAME_NAME":     {CategoryFile, CategoryPackage, CategoryWireJSON},
	"FIELD_SAME_JSON_NAME":     {CategoryFile, CategoryPackage, CategoryWireJSON},
	"FIELD_SAME_NAME":          {CategoryFile, CategoryPackage, CategoryWireJSON},
	"MESSAGE_SAME_JSON_FORMAT": {CategoryFile, CategoryPackage, CategoryWireJSON},

	"FIELD_SAME_DEFAULT":           {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"FIELD_SAME_ONEOF":             {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"FILE_SAME_PACKAGE":            {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"MESSAGE_SAME_REQUIRED_FIELDS": {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RESERVED_ENUM_NO_DELETE":      {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RESERVED_MESSAGE_NO_DELETE":   {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RPC_SAME_CLIENT_STREAMING":    {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RPC_SAME_IDEMPOTENCY_LEVEL":   {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RPC_SAME_REQUEST_TYPE":        {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RPC_SAME_RESPONSE_TYPE":       {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},
	"RPC_SAME_SERVER_STREAMING":    {CategoryFile, CategoryPackage, CategoryWireJSON, CategoryWire},

	"PACKAGE_ENUM_NO_DELETE":      {CategoryPackage},
	"PACKAGE_EXTENSION_NO_DELETE": {CategoryPackage},
	"PACKAGE_MESSAGE_NO_DELETE":   {CategoryPackage},
	"PACKAGE_NO_DELETE":           {CategoryPackage},
	"PACKAGE_SERVICE_NO_DELETE":   {CategoryPackage},

	"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED": {CategoryWireJSON},
	"FIELD_NO_DELETE_UNLESS_NAME_RESERVED":      {CategoryWireJSON},
	"FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY":    {CategoryWireJSON},
	"FIELD_WIRE_JSON_COMPATIBLE_TYPE":           {CategoryWireJSON},

	"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED": {CategoryWireJSON, CategoryWire},
	"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED":      {CategoryWireJSON, CategoryWire},

	"FIELD_WIRE_COMPATIBLE_CARDINALITY": {CategoryWire},
	"FIELD_WIRE_COMPATIBLE_TYPE":        {CategoryWire},
}

// RulesOf returns the IDs of the rules a category applies, sorted.
func RulesOf(category string) []string {
	var out []string
	for id, cats := range ruleCategories {
		if slices.Contains(cats, category) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ProtoChange is one difference between a baseline and the current files:
// a breaking one names the buf rule it violates and the file it is in.
type ProtoChange struct {
	Breaking bool
	Rule     string // buf's rule ID; empty for a compatible change
	File     string // path under the proto root
	Text     string
}

func (c ProtoChange) String() string {
	if !c.Breaking {
		return "compatible: " + c.Text
	}
	return c.Rule + ": " + c.File + ": " + c.Text
}

// BreakingChanges checks cur against the baseline old with the rules of
// category (one of BreakingCategories) and returns every violation, then
// the compatible additions; each group sorted. Elements are paired the way
// buf pairs them: files by path, messages, enums and services by full
// name, fields by number within their message, extensions by extendee and
// number, enum values by number, methods by name.
func BreakingChanges(old, cur *Registry, category string) []ProtoChange {
	b := &breakingCheck{cat: category}
	oi, ci := indexRegistry(old), indexRegistry(cur)
	b.files(oi, ci)
	b.packages(oi, ci)
	for name, oe := range oi.enums {
		if ce, ok := ci.enums[name]; ok {
			b.enum(oe, ce)
		}
	}
	for name, om := range oi.messages {
		if cm, ok := ci.messages[name]; ok {
			b.message(om, cm)
		}
	}
	for key, oext := range oi.extensions {
		if cext, ok := ci.extensions[key]; ok {
			b.field(oext, cext)
		}
	}
	for name, os := range oi.services {
		if cs, ok := ci.services[name]; ok {
			b.service(os, cs)
		}
	}
	b.additions(oi, ci)
	slices.SortFunc(b.out, func(x, y ProtoChange) int {
		if x.Breaking != y.Breaking {
			if x.Breaking {
				return -1
			}
			return 1
		}
		return strings.Compare(x.String(), y.String())
	})
	return slices.Compact(b.out)
}

type breakingCheck struct {
	cat string
	out []ProtoChange
}

// add records a violation of rule, if the category applies it.
func (b *breakingCheck) add(rule string, d protoreflect.Descriptor, format string, args ...any) {
	cats, known := ruleCategories[rule]
	if !known {
		panic("unknown breaking rule " + rule)
	}
	if !slices.Contains(cats, b.cat) {
		return
	}
	b.out = append(b.out, ProtoChange{Breaking: true, Rule: rule, File: d.ParentFile().Path(), Text: fmt.Sprintf(format, args...)})
}

func (b *breakingCheck) compatible(format string, args ...any) {
	b.out = append(b.out, ProtoChange{Text: fmt.Sprintf(format, args...)})
}

type extKey struct {
	extendee protoreflect.FullName
	number   protoreflect.FieldNumber
}

// protoIndex is a registry's elements by the keys buf pairs them with.
type protoIndex struct {
	files      map[string]protoreflect.FileDescriptor
	messages   map[protoreflect.FullName]protoreflect.MessageDescriptor // nested and map entries too
	enums      map[protoreflect.FullName]protoreflect.EnumDescriptor
	services   map[protoreflect.FullName]protoreflect.ServiceDescriptor
	extensions map[extKey]protoreflect.FieldDescriptor
	packages   map[string]*elementNames // by package
	perFile    map[string]*elementNames // by file path
}

// elementNames are the names of a file's or a package's elements relative
// to the package ("Outer.Inner"); services by plain name.
type elementNames struct {
	messages, enums, extensions, services map[string]protoreflect.Descriptor
}

func newElementNames() *elementNames {
	return &elementNames{map[string]protoreflect.Descriptor{}, map[string]protoreflect.Descriptor{}, map[string]protoreflect.Descriptor{}, map[string]protoreflect.Descriptor{}}
}

func indexRegistry(r *Registry) *protoIndex {
	x := &protoIndex{
		files:      map[string]protoreflect.FileDescriptor{},
		messages:   map[protoreflect.FullName]protoreflect.MessageDescriptor{},
		enums:      map[protoreflect.FullName]protoreflect.EnumDescriptor{},
		services:   map[protoreflect.FullName]protoreflect.ServiceDescriptor{},
		extensions: map[extKey]protoreflect.FieldDescriptor{},
		packages:   map[string]*elementNames{},
		perFile:    map[string]*elementNames{},
	}
	for _, f := range r.Files {
		x.files[f.Path()] = f
		pkg := string(f.Package())
		if x.packages[pkg] == nil {
			x.packages[pkg] = newElementNames()
		}
		fileNames := newElementNames()
		x.perFile[f.Path()] = fileNames
		both := []*elementNames{x.packages[pkg], fileNames}
		rel := func(d protoreflect.Descriptor) string {
			if pkg == "" {
				return string(d.FullName())
			}
			return strings.TrimPrefix(string(d.FullName()), pkg+".")
		}
		addEnums := func(es protoreflect.EnumDescriptors) {
			for i := range es.Len() {
				e := es.Get(i)
				x.enums[e.FullName()] = e
				for _, n := range both {
					n.enums[rel(e)] = e
				}
			}
		}
		addExts := func(es protoreflect.ExtensionDescriptors) {
			for i := range es.Len() {
				e := es.Get(i)
				x.extensions[extKey{e.ContainingMessage().FullName(), e.Number()}] = e
				for _, n := range both {
					n.extensions[rel(e)] = e
				}
			}
		}
		var addMessages func(ms protoreflect.MessageDescriptors)
		addMessages = func(ms protoreflect.MessageDescriptors) {
			for i := range ms.Len() {
				m := ms.Get(i)
				x.messages[m.FullName()] = m
				for _, n := range both {
					n.messages[rel(m)] = m
				}
				addEnums(m.Enums())
				addExts(m.Extensions())
				addMessages(m.Messages())
			}
		}
		addMessages(f.Messages())
		addEnums(f.Enums())
		addExts(f.Extensions())
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			x.services[s.FullName()] = s
			for _, n := range both {
				n.services[string(s.Name())] = s
			}
		}
	}
	return x
}

// files applies the rules that pair files by path.
func (b *breakingCheck) files(oi, ci *protoIndex) {
	for path, of := range oi.files {
		cf, ok := ci.files[path]
		if !ok {
			b.add("FILE_NO_DELETE", of, "file %s was deleted", path)
			continue
		}
		on, cn := oi.perFile[path], ci.perFile[path]
		for _, name := range deleted(on.enums, cn.enums) {
			b.add("ENUM_NO_DELETE", cf, "enum %s was deleted from the file", name)
		}
		for _, name := range deleted(on.extensions, cn.extensions) {
			b.add("EXTENSION_NO_DELETE", cf, "extension %s was deleted from the file", name)
		}
		for _, name := range deleted(on.messages, cn.messages) {
			b.add("MESSAGE_NO_DELETE", cf, "message %s was deleted from the file", name)
		}
		for _, name := range deleted(on.services, cn.services) {
			b.add("SERVICE_NO_DELETE", cf, "service %s was deleted from the file", name)
		}
		if of.Package() != cf.Package() {
			b.add("FILE_SAME_PACKAGE", cf, "package changed from %q to %q", of.Package(), cf.Package())
		}
		if os, cs := syntaxName(of), syntaxName(cf); os != cs {
			b.add("FILE_SAME_SYNTAX", cf, "syntax changed from %q to %q", os, cs)
		}
		oo, co := fileOptions(of), fileOptions(cf)
		for _, opt := range []struct {
			rule, name string
			get        func(*descriptorpb.FileOptions) any
		}{
			{"FILE_SAME_CC_ENABLE_ARENAS", "cc_enable_arenas", func(o *descriptorpb.FileOptions) any { return o.GetCcEnableArenas() }},
			{"FILE_SAME_CC_GENERIC_SERVICES", "cc_generic_services", func(o *descriptorpb.FileOptions) any { return o.GetCcGenericServices() }},
			{"FILE_SAME_CSHARP_NAMESPACE", "csharp_namespace", func(o *descriptorpb.FileOptions) any { return o.GetCsharpNamespace() }},
			{"FILE_SAME_GO_PACKAGE", "go_package", func(o *descriptorpb.FileOptions) any { return o.GetGoPackage() }},
			{"FILE_SAME_JAVA_GENERIC_SERVICES", "java_generic_services", func(o *descriptorpb.FileOptions) any { return o.GetJavaGenericServices() }},
			{"FILE_SAME_JAVA_MULTIPLE_FILES", "java_multiple_files", func(o *descriptorpb.FileOptions) any { return o.GetJavaMultipleFiles() }},
			{"FILE_SAME_JAVA_OUTER_CLASSNAME", "java_outer_classname", func(o *descriptorpb.FileOptions) any { return o.GetJavaOuterClassname() }},
			{"FILE_SAME_JAVA_PACKAGE", "java_package", func(o *descriptorpb.FileOptions) any { return o.GetJavaPackage() }},
			{"FILE_SAME_OBJC_CLASS_PREFIX", "objc_class_prefix", func(o *descriptorpb.FileOptions) any { return o.GetObjcClassPrefix() }},
			{"FILE_SAME_OPTIMIZE_FOR", "optimize_for", func(o *descriptorpb.FileOptions) any { return o.GetOptimizeFor().String() }},
			{"FILE_SAME_PHP_CLASS_PREFIX", "php_class_prefix", func(o *descriptorpb.FileOptions) any { return o.GetPhpClassPrefix() }},
			{"FILE_SAME_PHP_METADATA_NAMESPACE", "php_metadata_namespace", func(o *descriptorpb.FileOptions) any { return o.GetPhpMetadataNamespace() }},
			{"FILE_SAME_PHP_NAMESPACE", "php_namespace", func(o *descriptorpb.FileOptions) any { return o.GetPhpNamespace() }},
			{"FILE_SAME_PY_GENERIC_SERVICES", "py_generic_services", func(o *descriptorpb.FileOptions) any { return o.GetPyGenericServices() }},
			{"FILE_SAME_RUBY_PACKAGE", "ruby_package", func(o *descriptorpb.FileOptions) any { return o.GetRubyPackage() }},
			{"FILE_SAME_SWIFT_PREFIX", "swift_prefix", func(o *descriptorpb.FileOptions) any { return o.GetSwiftPrefix() }},
		} {
			if ov, cv := opt.get(oo), opt.get(co); ov != cv {
				b.add(opt.rule, cf, "option %s changed from %v to %v", opt.name, ov, cv)
			}
		}
	}
}

// packages applies the rules that pair packages.
func (b *breakingCheck) packages(oi, ci *protoIndex) {
	for pkg, on := range oi.packages {
		cn, ok := ci.packages[pkg]
		if !ok {
			// reported against one of the package's former files
			b.add("PACKAGE_NO_DELETE", anyFileOf(oi, pkg), "package %q was deleted", pkg)
			continue
		}
		for _, kind := range []struct {
			rule, what string
			o, c       map[string]protoreflect.Descriptor
		}{
			{"PACKAGE_ENUM_NO_DELETE", "enum", on.enums, cn.enums},
			{"PACKAGE_EXTENSION_NO_DELETE", "extension", on.extensions, cn.extensions},
			{"PACKAGE_MESSAGE_NO_DELETE", "message", on.messages, cn.messages},
			{"PACKAGE_SERVICE_NO_DELETE", "service", on.services, cn.services},
		} {
			if len(kind.c) == 0 {
				// buf (v1.75.0) checks a kind only where the package still
				// has one of it: deleting a package's last extension (or
				// enum, message, service) is not reported by these rules
				continue
			}
			for _, name := range deleted(kind.o, kind.c) {
				b.add(kind.rule, kind.o[name], "%s %s was deleted from package %q", kind.what, name, pkg)
			}
		}
	}
}

func anyFileOf(x *protoIndex, pkg string) protoreflect.FileDescriptor {
	var paths []string
	for p, f := range x.files {
		if string(f.Package()) == pkg {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return x.files[paths[0]]
}

// enum applies the rules that pair enums by full name.
func (b *breakingCheck) enum(oe, ce protoreflect.EnumDescriptor) {
	if oe.IsClosed() != ce.IsClosed() {
		b.add("ENUM_SAME_TYPE", ce, "enum %s changed from %s to %s", ce.FullName(), openness(oe), openness(ce))
	}
	if jsonFormat(oe) == descriptorpb.FeatureSet_ALLOW && jsonFormat(ce) != descriptorpb.FeatureSet_ALLOW {
		b.add("ENUM_SAME_JSON_FORMAT", ce, "enum %s JSON format support changed from ALLOW to %v", ce.FullName(), jsonFormat(ce))
	}
	on, cn := enumValuesByNumber(oe), enumValuesByNumber(ce)
	for _, num := range sortedNumbers(on) {
		names := on[num]
		cur, ok := cn[num]
		if !ok {
			b.add("ENUM_VALUE_NO_DELETE", ce, "value %d (%s) of enum %s was deleted", num, strings.Join(names, ", "), ce.FullName())
			if !ce.ReservedRanges().Has(num) {
				b.add("ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", ce, "value %d of enum %s was deleted without reserving the number %d", num, ce.FullName(), num)
			}
			for _, n := range names {
				if !namesReserved(ce.ReservedNames(), n) {
					b.add("ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", ce, "value %d of enum %s was deleted without reserving the name %s", num, ce.FullName(), n)
					break
				}
			}
			continue
		}
		for _, n := range names {
			if !slices.Contains(cur, n) {
				b.add("ENUM_VALUE_SAME_NAME", ce, "value %d of enum %s changed name from %s to %s", num, ce.FullName(), strings.Join(names, ", "), strings.Join(cur, ", "))
				break
			}
		}
	}
	b.ranges("RESERVED_ENUM_NO_DELETE", ce, "reserved", enumRanges(oe.ReservedRanges()), enumRanges(ce.ReservedRanges()))
	for _, n := range reservedNamesDeleted(oe.ReservedNames(), ce.ReservedNames()) {
		b.add("RESERVED_ENUM_NO_DELETE", ce, "reserved name %q of enum %s was deleted", n, ce.FullName())
	}
}

// message applies the rules that pair messages by full name, then those
// that pair their fields by number.
func (b *breakingCheck) message(om, cm protoreflect.MessageDescriptor) {
	ofs, cfs := om.Fields(), cm.Fields()
	for i := range ofs.Len() {
		of := ofs.Get(i)
		cf := cfs.ByNumber(of.Number())
		if cf != nil {
			b.field(of, cf)
			continue
		}
		what := fmt.Sprintf("field %d %q of message %s", of.Number(), of.Name(), cm.FullName())
		hint := ""
		if b.cat == CategoryFile || b.cat == CategoryPackage {
			// the issue: people reserve, as they are told to, and still fail
			hint = fmt.Sprintf(" (under %s rules a deleted field breaks generated code even when reserved; keep it, deprecated)", b.cat)
		}
		b.add("FIELD_NO_DELETE", cm, "%s was deleted%s", what, hint)
		if !cm.ReservedRanges().Has(of.Number()) {
			b.add("FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", cm, "%s was deleted without reserving the number %d", what, of.Number())
		}
		if !namesReserved(cm.ReservedNames(), string(of.Name())) {
			b.add("FIELD_NO_DELETE_UNLESS_NAME_RESERVED", cm, "%s was deleted without reserving the name %q", what, of.Name())
		}
	}
	for i := range om.Oneofs().Len() {
		oo := om.Oneofs().Get(i)
		if oo.IsSynthetic() {
			continue // proto3 optional: a presence change, caught as cardinality
		}
		if cm.Oneofs().ByName(oo.Name()) == nil {
			b.add("ONEOF_NO_DELETE", cm, "oneof %s of message %s was deleted", oo.Name(), cm.FullName())
		}
	}
	if !messageOptions(om).GetNoStandardDescriptorAccessor() && messageOptions(cm).GetNoStandardDescriptorAccessor() {
		b.add("MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", cm, "message %s option no_standard_descriptor_accessor changed from false to true", cm.FullName())
	}
	if jsonFormat(om) == descriptorpb.FeatureSet_ALLOW && jsonFormat(cm) != descriptorpb.FeatureSet_ALLOW {
		b.add("MESSAGE_SAME_JSON_FORMAT", cm, "message %s JSON format support changed from ALLOW to %v", cm.FullName(), jsonFormat(cm))
	}
	oreq, creq := requiredNumbers(om), requiredNumbers(cm)
	for _, n := range oreq {
		if !slices.Contains(creq, n) {
			b.add("MESSAGE_SAME_REQUIRED_FIELDS", cm, "message %s: required field %d was deleted (or made optional)", cm.FullName(), n)
		}
	}
	for _, n := range creq {
		if !slices.Contains(oreq, n) {
			b.add("MESSAGE_SAME_REQUIRED_FIELDS", cm, "message %s: required field %d was added", cm.FullName(), n)
		}
	}
	b.ranges("RESERVED_MESSAGE_NO_DELETE", cm, "reserved", fieldRanges(om.ReservedRanges()), fieldRanges(cm.ReservedRanges()))
	for _, n := range reservedNamesDeleted(om.ReservedNames(), cm.ReservedNames()) {
		b.add("RESERVED_MESSAGE_NO_DELETE", cm, "reserved name %q of message %s was deleted", n, cm.FullName())
	}
	b.ranges("EXTENSION_MESSAGE_NO_DELETE", cm, "extension", fieldRanges(om.ExtensionRanges()), fieldRanges(cm.ExtensionRanges()))
}

// field applies the rules that pair fields (or extensions).
func (b *breakingCheck) field(of, cf protoreflect.FieldDescriptor) {
	what := fmt.Sprintf("field %d %q of message %s", cf.Number(), cf.Name(), cf.ContainingMessage().FullName())
	if cf.IsExtension() {
		what = fmt.Sprintf("extension %d %s of message %s", cf.Number(), cf.FullName(), cf.ContainingMessage().FullName())
	}
	mapEntries := of.ContainingMessage().IsMapEntry() && cf.ContainingMessage().IsMapEntry()

	// names
	if on, cn := fieldName(of), fieldName(cf); on != cn {
		b.add("FIELD_SAME_NAME", cf, "field %d of message %s changed name from %q to %q", cf.Number(), cf.ContainingMessage().FullName(), on, cn)
	}
	if !of.IsExtension() && of.JSONName() != cf.JSONName() {
		b.add("FIELD_SAME_JSON_NAME", cf, "%s changed json_name from %q to %q", what, of.JSONName(), cf.JSONName())
	}

	// cardinality
	if !mapEntries {
		oc, cc := cardinalityOf(of), cardinalityOf(cf)
		if oc != cc {
			b.add("FIELD_SAME_CARDINALITY", cf, "%s changed cardinality from %q to %q", what, oc, cc)
		}
		if wireCardinality[oc] != wireCardinality[cc] {
			b.add("FIELD_WIRE_COMPATIBLE_CARDINALITY", cf, "%s changed cardinality from %q to %q", what, oc, cc)
		}
		if wireJSONCardinality[oc] != wireJSONCardinality[cc] {
			b.add("FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", cf, "%s changed cardinality from %q to %q", what, oc, cc)
		}
	}

	// types
	typeChanged := fmt.Sprintf("%s changed type from %s to %s", what, typeName(of), typeName(cf))
	if of.Kind() != cf.Kind() || (hasTypeName(cf) && typeName(of) != typeName(cf)) {
		b.add("FIELD_SAME_TYPE", cf, "%s", typeChanged)
	}
	ow, cw := wireGroup[of.Kind()], wireGroup[cf.Kind()]
	switch {
	case ow != cw:
		if !(of.Kind() == protoreflect.StringKind && cf.Kind() == protoreflect.BytesKind) {
			b.add("FIELD_WIRE_COMPATIBLE_TYPE", cf, "%s", typeChanged)
		}
	case !sameReferencedType(of, cf):
		b.add("FIELD_WIRE_COMPATIBLE_TYPE", cf, "%s", typeChanged)
	}
	if wireJSONGroup[of.Kind()] != wireJSONGroup[cf.Kind()] || !sameReferencedType(of, cf) {
		b.add("FIELD_WIRE_JSON_COMPATIBLE_TYPE", cf, "%s", typeChanged)
	}

	// options and features
	if is64Bit(of.Kind()) && is64Bit(cf.Kind()) && fieldOptions(of).GetJstype() != fieldOptions(cf).GetJstype() {
		b.add("FIELD_SAME_JSTYPE", cf, "%s changed jstype from %v to %v", what, fieldOptions(of).GetJstype(), fieldOptions(cf).GetJstype())
	}
	if !mapEntries && isStringOrBytes(of) && isStringOrBytes(cf) {
		os, oPiece := cppStringType(of)
		cs, cPiece := cppStringType(cf)
		if (os != cs || oPiece != cPiece) && !(oPiece && cs == descriptorpb.FieldOptions_STRING) {
			b.add("FIELD_SAME_CPP_STRING_TYPE", cf, "%s changed its C++ string type from %v to %v", what, os, cs)
		}
	}
	if of.Kind() == protoreflect.StringKind && cf.Kind() == protoreflect.StringKind {
		if ov, cv := utf8Validation(of), utf8Validation(cf); ov != cv {
			b.add("FIELD_SAME_UTF8_VALIDATION", cf, "%s changed UTF-8 validation from %v to %v", what, ov, cv)
		}
		if ov, cv := javaUTF8Validation(of), javaUTF8Validation(cf); ov != cv {
			b.add("FIELD_SAME_JAVA_UTF8_VALIDATION", cf, "%s changed Java UTF-8 validation from %v to %v", what, ov, cv)
		}
	}
	if canHaveDefault(of) && canHaveDefault(cf) {
		od, cd := defaultOf(of), defaultOf(cf)
		if !(isZeroDefault(od) && isZeroDefault(cd)) && !defaultsEqual(od, cd) {
			b.add("FIELD_SAME_DEFAULT", cf, "%s changed its default from %v to %v", what, od, cd)
		}
	}

	// oneof membership
	if !of.IsExtension() {
		oo, co := realOneof(of), realOneof(cf)
		switch {
		case oo == nil && co == nil:
		case oo != nil && co != nil:
			if oo.Name() != co.Name() {
				b.add("FIELD_SAME_ONEOF", cf, "%s moved from oneof %s to oneof %s", what, oo.Name(), co.Name())
			}
		case oo == nil:
			b.add("FIELD_SAME_ONEOF", cf, "%s moved into oneof %s", what, co.Name())
		default:
			b.add("FIELD_SAME_ONEOF", cf, "%s moved out of oneof %s", what, oo.Name())
		}
	}
}

// service applies the rules that pair services, then their methods.
func (b *breakingCheck) service(os, cs protoreflect.ServiceDescriptor) {
	for i := range os.Methods().Len() {
		om := os.Methods().Get(i)
		cm := cs.Methods().ByName(om.Name())
		if cm == nil {
			b.add("RPC_NO_DELETE", cs, "method %s of service %s was deleted", om.Name(), cs.FullName())
			continue
		}
		what := fmt.Sprintf("method %s.%s", cs.FullName(), cm.Name())
		if om.IsStreamingClient() != cm.IsStreamingClient() {
			b.add("RPC_SAME_CLIENT_STREAMING", cs, "%s changed client streaming from %t to %t", what, om.IsStreamingClient(), cm.IsStreamingClient())
		}
		if om.IsStreamingServer() != cm.IsStreamingServer() {
			b.add("RPC_SAME_SERVER_STREAMING", cs, "%s changed server streaming from %t to %t", what, om.IsStreamingServer(), cm.IsStreamingServer())
		}
		if om.Input().FullName() != cm.Input().FullName() {
			b.add("RPC_SAME_REQUEST_TYPE", cs, "%s changed its request type from %s to %s", what, om.Input().FullName(), cm.Input().FullName())
		}
		if om.Output().FullName() != cm.Output().FullName() {
			b.add("RPC_SAME_RESPONSE_TYPE", cs, "%s changed its response type from %s to %s", what, om.Output().FullName(), cm.Output().FullName())
		}
		oi, ci := methodOptions(om).GetIdempotencyLevel(), methodOptions(cm).GetIdempotencyLevel()
		if oi != ci {
			b.add("RPC_SAME_IDEMPOTENCY_LEVEL", cs, "%s changed idempotency_level from %v to %v", what, oi, ci)
		}
	}
}

// additions lists what cur adds, for the log.
func (b *breakingCheck) additions(oi, ci *protoIndex) {
	for path := range ci.files {
		if oi.files[path] == nil {
			b.compatible("file %s added", path)
		}
	}
	for name, cm := range ci.messages {
		om, ok := oi.messages[name]
		if !ok {
			if !cm.IsMapEntry() {
				b.compatible("message %s added", name)
			}
			continue
		}
		for i := range cm.Fields().Len() {
			cf := cm.Fields().Get(i)
			if om.Fields().ByNumber(cf.Number()) == nil && !cm.IsMapEntry() {
				b.compatible("field %s.%s (%d) added", name, cf.Name(), cf.Number())
			}
		}
	}
	for name, ce := range ci.enums {
		oe, ok := oi.enums[name]
		if !ok {
			b.compatible("enum %s added", name)
			continue
		}
		for i := range ce.Values().Len() {
			cv := ce.Values().Get(i)
			if oe.Values().ByNumber(cv.Number()) == nil {
				b.compatible("value %s (%d) of enum %s added", cv.Name(), cv.Number(), name)
			}
		}
	}
	for name, cs := range ci.services {
		os, ok := oi.services[name]
		if !ok {
			b.compatible("service %s added", name)
			continue
		}
		for i := range cs.Methods().Len() {
			if m := cs.Methods().Get(i); os.Methods().ByName(m.Name()) == nil {
				b.compatible("method %s.%s added", name, m.Name())
			}
		}
	}
}

// ranges reports the parts of old's ranges (inclusive) that cur's ranges
// no longer cover.
func (b *breakingCheck) ranges(rule string, d protoreflect.Descriptor, kind string, old, cur [][2]int64) {
	cur = collapse(cur)
	for _, r := range old {
		if missing := uncovered(r, cur); len(missing) > 0 {
			var parts []string
			for _, m := range missing {
				parts = append(parts, rangeString(m))
			}
			b.add(rule, d, "%s range %s of %s lost %s", kind, rangeString(r), d.FullName(), strings.Join(parts, ", "))
		}
	}
}

func rangeString(r [2]int64) string {
	if r[0] == r[1] {
		return fmt.Sprintf("[%d]", r[0])
	}
	return fmt.Sprintf("[%d,%d]", r[0], r[1])
}

func collapse(rs [][2]int64) [][2]int64 {
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] || (rs[i][0] == rs[j][0] && rs[i][1] < rs[j][1]) })
	var out [][2]int64
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// uncovered returns the parts of r no range of collapsed (sorted, disjoint)
// covers.
func uncovered(r [2]int64, collapsed [][2]int64) [][2]int64 {
	var out [][2]int64
	pos := r[0]
	for _, c := range collapsed {
		if c[1] < pos {
			continue
		}
		if c[0] > r[1] {
			break
		}
		if c[0] > pos {
			out = append(out, [2]int64{pos, c[0] - 1})
		}
		pos = c[1] + 1
		if pos > r[1] {
			return out
		}
	}
	if pos <= r[1] {
		out = append(out, [2]int64{pos, r[1]})
	}
	return out
}

// fieldRanges converts half-open field ranges to inclusive ones.
func fieldRanges(rs protoreflect.FieldRanges) [][2]int64 {
	out := make([][2]int64, rs.Len())
	for i := range rs.Len() {
		r := rs.Get(i)
		out[i] = [2]int64{int64(r[0]), int64(r[1]) - 1}
	}
	return out
}

// enumRanges returns enum ranges (already inclusive).
func enumRanges(rs protoreflect.EnumRanges) [][2]int64 {
	out := make([][2]int64, rs.Len())
	for i := range rs.Len() {
		r := rs.Get(i)
		out[i] = [2]int64{int64(r[0]), int64(r[1])}
	}
	return out
}

func namesReserved(rs protoreflect.Names, n string) bool { return rs.Has(protoreflect.Name(n)) }

func reservedNamesDeleted(old, cur protoreflect.Names) []string {
	var out []string
	for i := range old.Len() {
		if n := old.Get(i); !cur.Has(n) {
			out = append(out, string(n))
		}
	}
	return out
}

// deleted returns the names in old that cur lacks, sorted.
func deleted(old, cur map[string]protoreflect.Descriptor) []string {
	var out []string
	for n := range old {
		if _, ok := cur[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func syntaxName(f protoreflect.FileDescriptor) string {
	if f.Syntax() == protoreflect.Editions {
		return "editions"
	}
	return f.Syntax().String()
}

func openness(e protoreflect.EnumDescriptor) string {
	if e.IsClosed() {
		return "closed"
	}
	return "open"
}

func enumValuesByNumber(e protoreflect.EnumDescriptor) map[protoreflect.EnumNumber][]string {
	out := map[protoreflect.EnumNumber][]string{}
	for i := range e.Values().Len() {
		v := e.Values().Get(i)
		out[v.Number()] = append(out[v.Number()], string(v.Name()))
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

func sortedNumbers(m map[protoreflect.EnumNumber][]string) []protoreflect.EnumNumber {
	out := make([]protoreflect.EnumNumber, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func requiredNumbers(m protoreflect.MessageDescriptor) []protoreflect.FieldNumber {
	var out []protoreflect.FieldNumber
	for i := range m.Fields().Len() {
		if f := m.Fields().Get(i); f.Cardinality() == protoreflect.Required {
			out = append(out, f.Number())
		}
	}
	return out
}

func fieldName(f protoreflect.FieldDescriptor) string {
	if f.IsExtension() {
		return string(f.FullName())
	}
	return string(f.Name())
}

// cardinality is buf's view of a field's label and presence.
type cardinality string

const (
	cardExplicit cardinality = "optional with explicit presence"
	cardImplicit cardinality = "optional with implicit presence"
	cardRequired cardinality = "required"
	cardRepeated cardinality = "repeated"
	cardMap      cardinality = "map"
)

var (
	wireCardinality     = map[cardinality]int{cardExplicit: 1, cardImplicit: 1, cardRequired: 2, cardRepeated: 3, cardMap: 3}
	wireJSONCardinality = map[cardinality]int{cardExplicit: 1, cardImplicit: 1, cardRequired: 2, cardRepeated: 3, cardMap: 4}
)

func cardinalityOf(f protoreflect.FieldDescriptor) cardinality {
	switch {
	case f.IsList():
		return cardRepeated
	case f.IsMap():
		return cardMap
	case f.Cardinality() == protoreflect.Required:
		return cardRequired
	case f.HasPresence():
		return cardExplicit
	}
	return cardImplicit
}

// wireGroup and wireJSONGroup: kinds within one group are compatible on
// the wire (and in JSON); from the protobuf language guide's "updating a
// message type", as buf groups them.
var (
	wireGroup = map[protoreflect.Kind]int{
		protoreflect.Int32Kind: 1, protoreflect.Int64Kind: 1, protoreflect.Uint32Kind: 1, protoreflect.Uint64Kind: 1, protoreflect.BoolKind: 1,
		protoreflect.Sint32Kind: 2, protoreflect.Sint64Kind: 2,
		protoreflect.StringKind: 3, protoreflect.BytesKind: 4,
		protoreflect.Fixed32Kind: 5, protoreflect.Sfixed32Kind: 5,
		protoreflect.Fixed64Kind: 6, protoreflect.Sfixed64Kind: 6,
		protoreflect.DoubleKind: 7, protoreflect.FloatKind: 8,
		protoreflect.GroupKind: 9, protoreflect.MessageKind: 10, protoreflect.EnumKind: 11,
	}
	wireJSONGroup = map[protoreflect.Kind]int{
		protoreflect.Int32Kind: 1, protoreflect.Uint32Kind: 1,
		protoreflect.Int64Kind: 2, protoreflect.Uint64Kind: 2,
		protoreflect.Fixed32Kind: 3, protoreflect.Sfixed32Kind: 3,
		protoreflect.Fixed64Kind: 4, protoreflect.Sfixed64Kind: 4,
		protoreflect.BoolKind: 5, protoreflect.Sint32Kind: 6, protoreflect.Sint64Kind: 7,
		protoreflect.StringKind: 8, protoreflect.BytesKind: 9,
		protoreflect.DoubleKind: 10, protoreflect.FloatKind: 11,
		protoreflect.GroupKind: 12, protoreflect.MessageKind: 13, protoreflect.EnumKind: 14,
	}
)

func hasTypeName(f protoreflect.FieldDescriptor) bool {
	switch f.Kind() {
	case protoreflect.EnumKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return true
	}
	return false
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	case protoreflect.MessageKind:
		return string(f.Message().FullName())
	case protoreflect.GroupKind:
		if f.Syntax() != protoreflect.Proto2 {
			return string(f.Message().FullName()) + " (delimited)"
		}
		return string(f.Message().FullName())
	}
	return f.Kind().String()
}

// sameReferencedType: for wire compatibility an enum may be replaced by
// another of the same short name holding at least the old values (same
// names, same numbers); a message only by itself.
func sameReferencedType(of, cf protoreflect.FieldDescriptor) bool {
	if of.Kind() != cf.Kind() {
		return true // a kind change is judged by the groups
	}
	switch cf.Kind() {
	case protoreflect.EnumKind:
		oe, ce := of.Enum(), cf.Enum()
		if oe.FullName() == ce.FullName() {
			return true
		}
		if oe.Name() != ce.Name() {
			return false
		}
		for i := range oe.Values().Len() {
			ov := oe.Values().Get(i)
			cv := ce.Values().ByName(ov.Name())
			if cv == nil || cv.Number() != ov.Number() {
				return false
			}
		}
		return true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return of.Message().FullName() == cf.Message().FullName()
	}
	return true
}

func is64Bit(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return true
	}
	return false
}

func isStringOrBytes(f protoreflect.FieldDescriptor) bool {
	return f.Kind() == protoreflect.StringKind || f.Kind() == protoreflect.BytesKind
}

// cppStringType is the field's ctype (STRING_PIECE is reported as STRING
// with piece set, as buf does). Editions' (pb.cpp).string_type feature is
// not read: no Nova file uses editions.
func cppStringType(f protoreflect.FieldDescriptor) (descriptorpb.FieldOptions_CType, bool) {
	switch fieldOptions(f).GetCtype() {
	case descriptorpb.FieldOptions_CORD:
		return descriptorpb.FieldOptions_CORD, false
	case descriptorpb.FieldOptions_STRING_PIECE:
		return descriptorpb.FieldOptions_STRING, true
	}
	return descriptorpb.FieldOptions_STRING, false
}

var (
	featureUTF8Validation = (*descriptorpb.FeatureSet)(nil).ProtoReflect().Descriptor().Fields().ByName("utf8_validation")
	featureJSONFormat     = (*descriptorpb.FeatureSet)(nil).ProtoReflect().Descriptor().Fields().ByName("json_format")
)

func utf8Validation(f protoreflect.FieldDescriptor) descriptorpb.FeatureSet_Utf8Validation {
	v, err := protoutil.ResolveFeature(f, featureUTF8Validation)
	if err != nil {
		return descriptorpb.FeatureSet_UTF8_VALIDATION_UNKNOWN
	}
	return descriptorpb.FeatureSet_Utf8Validation(v.Enum())
}

// javaUTF8Validation: java_string_check_utf8 turns validation on in Java
// whatever the language-wide feature says.
func javaUTF8Validation(f protoreflect.FieldDescriptor) descriptorpb.FeatureSet_Utf8Validation {
	if fileOptions(f.ParentFile()).GetJavaStringCheckUtf8() {
		return descriptorpb.FeatureSet_VERIFY
	}
	return utf8Validation(f)
}

func jsonFormat(d protoreflect.Descriptor) descriptorpb.FeatureSet_JsonFormat {
	v, err := protoutil.ResolveFeature(d, featureJSONFormat)
	if err != nil {
		return descriptorpb.FeatureSet_JSON_FORMAT_UNKNOWN
	}
	return descriptorpb.FeatureSet_JsonFormat(v.Enum())
}

func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

func canHaveDefault(f protoreflect.FieldDescriptor) bool {
	return !f.IsList() && !f.IsMap() && f.Message() == nil
}

// defaultOf returns a comparable form of the field's default: strings and
// bytes as string, enums as their number, numbers and bools as themselves.
func defaultOf(f protoreflect.FieldDescriptor) any {
	d := f.Default()
	switch f.Kind() {
	case protoreflect.BytesKind:
		return string(d.Bytes())
	case protoreflect.StringKind:
		return d.String()
	case protoreflect.EnumKind:
		return int32(d.Enum())
	}
	return d.Interface()
}

func isZeroDefault(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case bool:
		return !v
	case int32:
		return v == 0
	case int64:
		return v == 0
	case uint32:
		return v == 0
	case uint64:
		return v == 0
	case float32:
		return v == 0 && !math.Signbit(float64(v))
	case float64:
		return v == 0 && !math.Signbit(v)
	}
	return false
}

// defaultsEqual compares defaults across kinds by value (a type change is
// another rule's business): 1 == 1.0 == true.
func defaultsEqual(a, b any) bool {
	as, aStr := a.(string)
	bs, bStr := b.(string)
	if aStr || bStr {
		return aStr && bStr && as == bs
	}
	// a float32 widened to float64 is compared at float32 precision
	if af, ok := a.(float32); ok {
		if bf, ok := b.(float64); ok {
			return (math.IsNaN(float64(af)) && math.IsNaN(bf)) || af == float32(bf)
		}
	}
	if af, ok := a.(float64); ok {
		if bf, ok := b.(float32); ok {
			return (math.IsNaN(af) && math.IsNaN(float64(bf))) || float32(af) == bf
		}
	}
	ab, aNaN := bigOf(a)
	bb, bNaN := bigOf(b)
	if aNaN || bNaN {
		return aNaN == bNaN
	}
	if ab == nil || bb == nil {
		return a == b
	}
	return ab.Cmp(bb) == 0
}

func bigOf(v any) (*big.Float, bool) {
	f := new(big.Float)
	switch v := v.(type) {
	case bool:
		if v {
			return f.SetInt64(1), false
		}
		return f.SetInt64(0), false
	case int32:
		return f.SetInt64(int64(v)), false
	case int64:
		return f.SetInt64(v), false
	case uint32:
		return f.SetUint64(uint64(v)), false
	case uint64:
		return f.SetUint64(v), false
	case float32:
		if math.IsNaN(float64(v)) {
			return nil, true
		}
		if math.IsInf(float64(v), 0) {
			return f.SetInf(v < 0), false
		}
		return f.SetFloat64(float64(v)), false
	case float64:
		if math.IsNaN(v) {
			return nil, true
		}
		if math.IsInf(v, 0) {
			return f.SetInf(v < 0), false
		}
		return f.SetFloat64(v), false
	}
	return nil, false
}

func fileOptions(f protoreflect.FileDescriptor) *descriptorpb.FileOptions {
	o, _ := f.Options().(*descriptorpb.FileOptions)
	return o
}

func messageOptions(m protoreflect.MessageDescriptor) *descriptorpb.MessageOptions {
	o, _ := m.Options().(*descriptorpb.MessageOptions)
	return o
}

func fieldOptions(f protoreflect.FieldDescriptor) *descriptorpb.FieldOptions {
	o, _ := f.Options().(*descriptorpb.FieldOptions)
	return o
}

func methodOptions(m protoreflect.MethodDescriptor) *descriptorpb.MethodOptions {
	o, _ := m.Options().(*descriptorpb.MethodOptions)
	return o
}
