// Package envconfig reads cogenesis's environment variables, all in one
// place. Environment variables hold secrets and endpoints only; every other
// setting is a flag or a config file.
package envconfig

import "os"

// Names of the variables read here.
const (
	// APIKeyVar holds the cloud API key (the openaiapi client reads the
	// variable it is configured with; this is the default).
	APIKeyVar = "COGEN_API_KEY"
	// HFTokenVar holds a Hugging Face token for gated models.
	HFTokenVar = "HF_TOKEN"
	// HFEndpointVar overrides the Hugging Face base URL (a mirror).
	HFEndpointVar = "HF_ENDPOINT"
	// ServeTokenVar holds the bearer token cogen serve requires (the
	// --token flag's default).
	ServeTokenVar = "COGEN_SERVE_TOKEN"
)

// HFToken returns the Hugging Face token, or "".
func HFToken() string { return os.Getenv(HFTokenVar) }

// HFEndpoint returns the Hugging Face base URL override, or "".
func HFEndpoint() string { return os.Getenv(HFEndpointVar) }

// ServeToken returns the gateway's bearer token, or "".
func ServeToken() string { return os.Getenv(ServeTokenVar) }
