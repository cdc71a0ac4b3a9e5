package adminapi

import (
	"context"
	"encoding"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/authgate/authgate/internal/httpapi"
)

// The security schemes of the document: an access token (password grant
// or client credentials of an admin access key) or the console's session.
const (
	SchemeBearer = "bearer"
	SchemeCookie = "cookie"
)

// buildOpenAPI describes routes as an OpenAPI 3.0 document: one operation
// per route (x-action names its privilege), path wildcards as path
// parameters, body and answer schemas generated from their Go types, and
// the admin error shape as every operation's error answer.
func buildOpenAPI(routes []Route) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "authgate admin API", Version: "1",
			Description: "The admin API of authgate under /admin: the console and the CLI act through the same operations. See docs/admin-api.md."},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{},
			SecuritySchemes: openapi3.SecuritySchemes{
				SchemeBearer: {Value: openapi3.NewJWTSecurityScheme().WithBearerFormat("opaque").
					WithDescription("An access token of an admin, owner or user principal (POST /oauth/token).")},
				SchemeCookie: {Value: openapi3.NewCSRFSecurityScheme().WithIn("cookie").WithName(SessionCookie).WithType("apiKey").
					WithDescription("The console's session cookie (POST /console/session); unsafe methods also need its CSRF token in X-CSRF-Token.")},
			},
		},
		Security: openapi3.SecurityRequirements{{SchemeBearer: {}}, {SchemeCookie: {}}},
	}
	errSchema, err := schemaOf(httpapi.AdminError{})
	if err != nil {
		return nil, err
	}
	doc.Components.Schemas["AdminError"] = errSchema
	errRef := &openapi3.SchemaRef{Ref: "#/components/schemas/AdminError", Value: errSchema.Value}
	tags := map[string]bool{}
	for _, rt := range routes {
		if !tags[rt.Tag] {
			tags[rt.Tag] = true
			doc.Tags = append(doc.Tags, &openapi3.Tag{Name: rt.Tag})
		}
		op, err := operation(rt, errRef)
		if err != nil {
			return nil, fmt.Errorf("adminapi: openapi: %s %s: %w", rt.Method, rt.Path, err)
		}
		path := wildcard.ReplaceAllString(rt.Path, "{$1}")
		item := doc.Paths.Value(path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(path, item)
		}
		item.SetOperation(rt.Method, op)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("adminapi: openapi document invalid: %w", err)
	}
	return doc, nil
}

func operation(rt Route, errRef *openapi3.SchemaRef) (*openapi3.Operation, error) {
	op := &openapi3.Operation{
		Tags:        []string{rt.Tag},
		Summary:     rt.Summary,
		OperationID: operationID(rt),
		Responses:   openapi3.NewResponses(),
	}
	if rt.Action != "" {
		op.Extensions = map[string]any{"x-action": string(rt.Action)}
	}
	if rt.Public {
		op.Security = &openapi3.SecurityRequirements{} // no credentials
	}
	for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
		p := openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema())
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
	}
	for _, q := range rt.Query {
		s := &openapi3.Schema{Type: &openapi3.Types{q.Type}}
		p := openapi3.NewQueryParameter(q.Name).WithDescription(q.Description).WithSchema(s)
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
	}
	if rt.Body != nil {
		s, err := schemaOf(rt.Body)
		if err != nil {
			return nil, err
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(s)}
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := openapi3.NewResponse().WithDescription(http.StatusText(status))
	switch {
	case rt.Raw:
		ok.WithContent(openapi3.NewContentWithSchema(nil, []string{rt.ResultType}))
	case rt.Result != nil:
		s, err := schemaOf(rt.Result)
		if err != nil {
			return nil, err
		}
		ok.WithContent(openapi3.NewContentWithJSONSchemaRef(s))
	default:
		status = http.StatusNoContent
		ok.WithDescription(http.StatusText(status))
	}
	op.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Value: ok})
	op.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("An error: 400 invalid input, 401 no or a bad token, 403 not allowed, 404 not found, 409 conflict, 413 body too large").
		WithContent(openapi3.NewContentWithJSONSchemaRef(errRef))})
	return op, nil
}

// operationID is a stable identifier of a route: its method and path.
func operationID(rt Route) string {
	p := wildcard.ReplaceAllString(strings.TrimPrefix(rt.Path, "/admin/"), "by_$1")
	p = strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(p)
	return strings.ToLower(rt.Method) + "_" + p
}

// schemaOf generates the schema of v's Go type: every exported field
// under its encoding/json name, as encoding/json writes it.
func schemaOf(v any) (*openapi3.SchemaRef, error) {
	return openapi3gen.NewSchemaRefForValue(v, nil, openapi3gen.UseAllExportedFields(),
		openapi3gen.SchemaCustomizer(func(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
			if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
				s.Nullable = true // a nil slice is written as null
			}
			var d Described
			switch {
			case t.Implements(describedType):
				d = reflect.Zero(t).Interface().(Described)
			case reflect.PointerTo(t).Implements(describedType):
				d = reflect.New(t).Interface().(Described)
			}
			switch {
			case d != nil:
				typ, desc := d.OpenAPIType()
				s.Type, s.Format, s.Description = &openapi3.Types{typ}, "", desc
			case t.Kind() != reflect.Struct && (t.Implements(textType) || reflect.PointerTo(t).Implements(textType)):
				s.Type, s.Format = &openapi3.Types{"string"}, "" // written by its MarshalText
			}
			return nil
		}))
}

// Described is implemented by a type whose JSON is not what its Go kind
// says (a duration written as "24h", not as nanoseconds): its schema is
// of type typ ("string", "integer", ...) with a description.
type Described interface {
	OpenAPIType() (typ, description string)
}

var (
	describedType = reflect.TypeFor[Described]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)
