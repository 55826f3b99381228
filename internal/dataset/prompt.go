package dataset

import (
	"errors"
	"strings"
)

// SystemPrompt is the system prompt that opens every LaMP-derived prompt
// with context (paper Table 7, "system prompt for request with context in
// personalized emails and papers"; copied from paper_dev.json).
const SystemPrompt = "You are now a helpful personal AI assistant. You should emulate the author's style and tone based on provided history content. Your responses should be detailed and informative, matching the author's unique writing approach. Aim for insightful and high-quality solutions that make users satisfied."

// Layout of a LaMP-derived prompt (as in paper_dev.json):
//
//	SystemPrompt
//
//	## History Paper Abstracts
//	Title: ...
//	Content: ...
//
//	Title: ...
//	Content: ...
//
//	## Task
//	Compose an abstract for the title '...' that matches the author's unique content, style and tone.
const (
	taskHeading  = "\n\n## Task\n"
	titleLabel   = "Title: "
	contentLabel = "\nContent: "
	itemSep      = "\n\n"
)

// template is a kind's history heading and task line around the target.
type template struct {
	heading, taskPrefix, taskSuffix string
}

var templates = map[Kind]template{
	KindPaper: {
		heading:    "## History Paper Abstracts",
		taskPrefix: "Compose an abstract for the title '",
		taskSuffix: "' that matches the author's unique content, style and tone.",
	},
	KindEmail: {
		heading:    "## History Emails",
		taskPrefix: "Compose an email for the subject '",
		taskSuffix: "' that matches the author's unique style and tone.",
	},
}

// Prompt is a LaMP-derived prompt taken apart: the author's history and
// the target's title (paper) or subject (email).
type Prompt struct {
	Kind Kind
	// History holds the history items, Title and Text only.
	History []ProfileItem
	// Target is the title or subject that the task asks to write for.
	Target string
}

// String renders the prompt with context: [SystemPrompt], the history
// section and the task line, in the layout of paper_dev.json.
func (p Prompt) String() string {
	t := templates[p.Kind]
	var b strings.Builder
	b.WriteString(SystemPrompt)
	b.WriteString(itemSep)
	b.WriteString(t.heading)
	b.WriteString("\n")
	for i, it := range p.History {
		if i > 0 {
			b.WriteString(itemSep)
		}
		b.WriteString(renderItem(it))
	}
	b.WriteString(taskHeading)
	b.WriteString(p.Without())
	b.WriteString("\n")
	return b.String()
}

// Without renders the prompt without context: the task line alone, as in
// paper_dev_wo.json.
func (p Prompt) Without() string {
	t := templates[p.Kind]
	return t.taskPrefix + p.Target + t.taskSuffix
}

func renderItem(it ProfileItem) string {
	return titleLabel + it.Title + contentLabel + it.Text
}

// Reasons a prompt does not parse. They name the part of the layout that
// is wrong, never the prompt's text.
var (
	errNoSystemPrompt = errors.New("does not start with the system prompt")
	errNoHistory      = errors.New("lacks the history heading")
	errNoTask         = errors.New("lacks the \"## Task\" section")
	errEmptyHistory   = errors.New("empty history")
	errBadItem        = errors.New("history item is not \"Title: ...\\nContent: ...\"")
	errEmptyItem      = errors.New("history item has an empty title or content")
	errBadTask        = errors.New("task line does not match the task template")
	errNoTrailingLF   = errors.New("does not end with a newline after the task line")
)

// ParsePrompt takes a prompt with context of the given kind (paper or
// email) apart. Its error says which part of the layout is wrong and never
// quotes the prompt.
func ParsePrompt(kind Kind, s string) (Prompt, error) {
	t, ok := templates[kind]
	if !ok {
		return Prompt{}, errors.New("not a LaMP-derived kind")
	}
	rest, ok := strings.CutPrefix(s, SystemPrompt+itemSep)
	if !ok {
		if strings.Contains(s, t.heading+"\n") {
			return Prompt{}, errNoSystemPrompt
		}
		return Prompt{}, errNoHistory
	}
	rest, ok = strings.CutPrefix(rest, t.heading+"\n")
	if !ok {
		return Prompt{}, errNoHistory
	}
	i := strings.LastIndex(rest, taskHeading)
	if i < 0 {
		return Prompt{}, errNoTask
	}
	history, task := rest[:i], rest[i+len(taskHeading):]
	task, ok = strings.CutSuffix(task, "\n")
	if !ok {
		return Prompt{}, errNoTrailingLF
	}
	target, ok := ParseTask(kind, task)
	if !ok {
		return Prompt{}, errBadTask
	}
	p := Prompt{Kind: kind, Target: target}
	if strings.TrimSpace(history) == "" {
		return Prompt{}, errEmptyHistory
	}
	if !strings.HasPrefix(history, titleLabel) {
		return Prompt{}, errBadItem
	}
	for item := range strings.SplitSeq(history[len(titleLabel):], itemSep+titleLabel) {
		title, text, ok := strings.Cut(item, contentLabel)
		if !ok || strings.Contains(title, "\n") {
			return Prompt{}, errBadItem
		}
		if strings.TrimSpace(title) == "" || strings.TrimSpace(text) == "" {
			return Prompt{}, errEmptyItem
		}
		p.History = append(p.History, ProfileItem{Title: title, Text: text})
	}
	return p, nil
}

// ParseTask returns the target (title or subject) of a task line of the
// given kind, and whether the line matches the kind's template.
func ParseTask(kind Kind, line string) (target string, ok bool) {
	t, ok := templates[kind]
	if !ok {
		return "", false
	}
	rest, ok := strings.CutPrefix(line, t.taskPrefix)
	if !ok {
		return "", false
	}
	target, ok = strings.CutSuffix(rest, t.taskSuffix)
	if !ok || strings.TrimSpace(target) == "" {
		return "", false
	}
	return target, true
}
