package privacy

import "fmt"

// TaskKind is the paper's task family: it names a dataset's format and
// picks a task's prompts. It is the one kind type of cogenesis; collab and
// internal/dataset use it under their own names.
type TaskKind string

// The paper's three task kinds.
const (
	// KindContext is context-aware instructions (the paper's synthetic
	// dataset).
	KindContext TaskKind = "context"
	// KindEmail is personalized emails (LaMP's Avocado emails as the
	// paper processed them).
	KindEmail TaskKind = "email"
	// KindPaper is personalized paper abstracts (LaMP's citation network
	// as the paper processed it).
	KindPaper TaskKind = "paper"
)

// ParseTaskKind validates a kind name.
func ParseTaskKind(s string) (TaskKind, error) {
	switch k := TaskKind(s); k {
	case KindContext, KindEmail, KindPaper:
		return k, nil
	}
	return "", fmt.Errorf("task kind %q: want context, email or paper", s)
}
