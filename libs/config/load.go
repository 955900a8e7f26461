package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// EnvPrefix starts every environment override: TRACEKIT_DATAWAY_URLS sets [dataway] urls.
const EnvPrefix = "TRACEKIT_"

// Loaded is a parsed, defaulted and validated configuration plus what was suspicious in it.
type Loaded struct {
	*Config
	// Warnings lists keys that were present but are not used by tracekit (for example
	// DataKit keys we do not implement), so a pasted DataKit section never fails to start
	// yet a typo is still reported.
	Warnings []string
}

// Load reads path (empty: defaults only), applies environment overrides from environ
// (os.Environ() in main) and validates the result.
func Load(path string, environ []string) (*Loaded, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	return Parse(data, environ)
}

// Parse is Load for an in-memory file.
func Parse(data []byte, environ []string) (*Loaded, error) {
	cfg := NewDefaultConfig()
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			if perr.LastKey != "" {
				return nil, fmt.Errorf("parse config: line %d: key %s: %s", perr.Position.Line, perr.LastKey, perr.Message)
			}
			return nil, fmt.Errorf("parse config: line %d: %s", perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}
	out := &Loaded{Config: cfg}
	for _, k := range md.Undecoded() {
		out.Warnings = append(out.Warnings, fmt.Sprintf("unknown key %q ignored", k.String()))
	}
	if err := applyEnv(cfg, environ); err != nil {
		return nil, err
	}
	cfg.Inputs.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return out, nil
}

// applyEnv walks the scalar keys of cfg: a key a.b_c is overridden by TRACEKIT_A_B_C.
// Lists are comma separated, maps are k=v pairs separated by commas. Input sections are
// arrays of tables and are not reachable this way: containers mount a file for them.
func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	return walkEnv(reflect.ValueOf(cfg).Elem(), EnvPrefix, "", env)
}

func walkEnv(v reflect.Value, prefix, path string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(strings.ReplaceAll(tag, ".", "_"))
		key := strings.TrimPrefix(path+"."+tag, ".")
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			if err := walkEnv(fv, name+"_", key, env); err != nil {
				return err
			}
			continue
		}
		raw, ok := env[name]
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			return fmt.Errorf("env %s (%s): %w", name, key, err)
		}
	}
	return nil
}

func setFromString(fv reflect.Value, raw string) error {
	if fv.Type() == reflect.TypeFor[Duration]() {
		var d Duration
		if err := d.UnmarshalText([]byte(raw)); err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a bool", raw)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		fv.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		fv.SetFloat(n)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return errors.New("only string lists can be set from the environment")
		}
		fv.Set(reflect.ValueOf(splitList(raw)))
	case reflect.Map:
		if fv.Type().Key().Kind() != reflect.String || fv.Type().Elem().Kind() != reflect.String {
			return errors.New("only string maps can be set from the environment")
		}
		m := map[string]string{}
		for _, kv := range splitList(raw) {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q is not key=value", kv)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		fv.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("type %s cannot be set from the environment", fv.Type())
	}
	return nil
}
