// Package config loads a service's configuration struct from an optional
// YAML file and then from environment variables named in `env` struct tags.
//
// Environment variables win over the file, and the file wins over the
// defaults already in the struct, so a service starts from DefaultConfig(),
// calls Load once and then validates.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path into dst when path is not empty, then
// applies every environment variable named by an `env:"NAME"` tag on dst's
// fields (nested structs included). dst must be a pointer to a struct.
// Supported field kinds: string, bool, int and int64, float64,
// time.Duration, and []string (comma-separated).
func Load(path string, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: destination must be a pointer to a struct")
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read config file: %w", err)
		}
		if err := yaml.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("parse config file %s: %w", path, err)
		}
	}
	return applyEnv(v.Elem(), os.LookupEnv)
}

func applyEnv(v reflect.Value, lookup func(string) (string, bool)) error {
	var errs []error
	t := v.Type()
	for i := range t.NumField() {
		field := t.Field(i)
		if !field.IsExported() {
			continue
		}
		fv := v.Field(i)
		name := field.Tag.Get("env")
		if name == "" {
			if fv.Kind() == reflect.Struct && field.Type != reflect.TypeFor[time.Duration]() {
				if err := applyEnv(fv, lookup); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setField(fv, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func setField(fv reflect.Value, raw string) error {
	if fv.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		fv.SetFloat(f)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported slice type %s", fv.Type())
		}
		var parts []string
		for p := range strings.SplitSeq(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

// DatabaseURL returns KEEL_DATABASE_URL, else DATABASE_URL, else "".
func DatabaseURL() string {
	if u := os.Getenv("KEEL_DATABASE_URL"); u != "" {
		return u
	}
	return os.Getenv("DATABASE_URL")
}

// NATS locates a NATS server. Services embed it as their NATS section.
type NATS struct {
	// URL of the NATS server (KEEL_NATS_URL).
	URL string `yaml:"url" env:"KEEL_NATS_URL"`
}

// Database locates Postgres. Its role must be able to create tables and the
// keel_app role when a service migrates.
type Database struct {
	// URL of the database (KEEL_DATABASE_URL).
	URL string `yaml:"url" env:"KEEL_DATABASE_URL"`
}
