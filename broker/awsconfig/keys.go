package awsconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// brokerKeys are the keys broker acts on; each also as broker_K.
var brokerKeys = []string{
	"region", "mfa_serial", "mfa_process", "source_profile", "role_arn", "external_id",
	"role_session_name", "duration_seconds", "include_profile", "credential_process",
	"source_identity", "session_tags", "transitive_session_tags",
	"endpoint_url", "services", "ignore_configured_endpoint_urls",
}

// brokerOnlyKeys exist only with the broker_ prefix.
var brokerOnlyKeys = []string{
	"broker_session_duration", "broker_no_mfa", "broker_key_max_age", "broker_yubikey_oath",
	"broker_mfa_prompt", "broker_source_identity",
}

// toolKeys are the AWS CLI's and SDKs' standard settings that broker leaves
// to them: not broker's business, and not a mistake.
var toolKeys = []string{
	"output", "s3", "s3api", "api_versions", "parameter_validation", "ca_bundle", "tcp_keepalive",
	"max_attempts", "retry_mode", "defaults_mode", "sts_regional_endpoints",
	"use_dualstack_endpoint", "use_fips_endpoint", "account_id_endpoint_mode", "aws_account_id",
	"metadata_service_timeout", "metadata_service_num_attempts", "ec2_metadata_service_endpoint",
	"ec2_metadata_service_endpoint_mode", "ec2_metadata_v1_disabled",
	"endpoint_discovery_enabled", "sdk_ua_app_id", "disable_request_compression",
	"request_min_compression_size_bytes", "sigv4a_signing_region_set", "auth_scheme_preference",
	"request_checksum_calculation", "response_checksum_validation",
	"csm_enabled", "csm_port", "csm_host", "csm_client_id", "imds_use_ipv6",
	"s3_use_arn_region", "s3_disable_multiregion_access_points", "s3_disable_express_session_auth",
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
}

// toolKeyPrefixes start families of the AWS CLI's own settings.
var toolKeyPrefixes = []string{"cli_"}

// unsupportedKeys are credential sources that the AWS CLI or aws-vault
// understand and broker does not: a profile relying on them gets no
// credentials from broker.
var unsupportedKeys = []string{
	"sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name",
	"sso_registration_scopes", "web_identity_token_file", "web_identity_token_process",
	"credential_source", "role_arn_with_web_identity",
}

// KeyKind says what broker makes of a config key.
type KeyKind int

const (
	KeyUnknown     KeyKind = iota // no tool broker knows reads it: likely a typo
	KeyBroker                     // broker acts on it
	KeyTool                       // the AWS CLI's or SDKs' own setting, left to them
	KeyUnsupported                // a credential source broker does not implement
)

// Kind classifies a lowercased config key.
func Kind(key string) KeyKind {
	switch {
	case slices.Contains(brokerOnlyKeys, key):
		return KeyBroker
	case slices.Contains(brokerKeys, strings.TrimPrefix(key, "broker_")):
		return KeyBroker
	case slices.Contains(unsupportedKeys, key):
		return KeyUnsupported
	case slices.Contains(toolKeys, key):
		return KeyTool
	}
	for _, p := range toolKeyPrefixes {
		if strings.HasPrefix(key, p) {
			return KeyTool
		}
	}
	return KeyUnknown
}

// KeysOf returns the keys of values of the given kind, sorted.
func KeysOf(values map[string]string, kind KeyKind) []string {
	var keys []string
	for k := range values {
		if Kind(k) == kind {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Tag is one session tag.
type Tag struct{ Key, Value string }

// ParseTags parses session tags written as aws-vault writes them, in
// session_tags and AWS_SESSION_TAGS: "key1=value1,key2=value2", blanks
// around keys and values trimmed. The order is kept.
func ParseTags(s string) ([]Tag, error) {
	var tags []Tag
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, errors.New("session tags must be written key1=value1,key2=value2")
		}
		if i := slices.IndexFunc(tags, func(t Tag) bool { return strings.EqualFold(t.Key, k) }); i >= 0 {
			// STS compares tag keys without case and refuses duplicates.
			return nil, errors.New("session tag " + k + " is given twice")
		}
		tags = append(tags, Tag{Key: k, Value: v})
	}
	return tags, nil
}

// ParseTagKeys parses a comma-separated list of tag keys
// (transitive_session_tags, AWS_TRANSITIVE_TAGS), skipping empty items.
func ParseTagKeys(s string) []string {
	var keys []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// ValidateSourceIdentity checks a source identity as STS does before it
// is sent: 2 to 64 characters, letters, digits and _ + = , . @ -.
func ValidateSourceIdentity(s string) error {
	if len(s) < 2 || len(s) > 64 {
		return fmt.Errorf("source identity %q must be 2 to 64 characters long", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)) {
			return fmt.Errorf("source identity %q may hold only letters, digits and _ + = , . @ -", s)
		}
	}
	return nil
}
