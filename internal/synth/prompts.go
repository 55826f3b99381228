package synth

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

const systemPrompt = `You write fictional but realistic data for research on personal writing assistants. Every person, place, company and fact you write is invented. Answer with a single JSON object that follows the requested schema, and nothing else.`

// themes spread the group portraits over walks of life; portrait i gets
// theme (seed + i) mod len.
var themes = []string{
	"health care and caregiving", "skilled trades and construction", "visual and performing arts",
	"schools and teaching", "farming and rural life", "banking, insurance and small business finance",
	"software and hardware", "restaurants, hotels and tourism", "public service and local government",
	"sport and fitness", "laboratory and field science", "shops and retail", "transport and logistics",
	"law and justice", "journalism and media", "retirement and volunteering", "students and early careers",
	"parenting and family life", "religious and community work", "military and emergency services",
}

func messages(user string) []openaiapi.ChatMessage {
	return []openaiapi.ChatMessage{
		{Role: llm.RoleSystem, Content: systemPrompt},
		{Role: llm.RoleUser, Content: user},
	}
}

func portraitPrompt(l Limits, p, total int, seed int64) []openaiapi.ChatMessage {
	theme := themes[(int(seed%int64(len(themes)))+len(themes)+p)%len(themes)]
	return messages(fmt.Sprintf(`Portray group %d of %d: a group of people who share a way of life, drawn from the world of %s.

Give:
- "group": a short name for the group (at most %d characters);
- "description": their daily routines, places, worries, hobbies and the kinds of things they write (at most %d characters);
- "occupations": %d to %d typical occupations in the group.

Avoid stereotypes; the members differ in age, income and background.`,
		p+1, total, theme, l.ItemChars, l.detailChars(), minOccupations, maxOccupations))
}

func userPrompt(l Limits, pt *Portrait, u, total int) []openaiapi.ChatMessage {
	return messages(fmt.Sprintf(`Group: %s
About the group: %s
Typical occupations: %s

Invent member %d of %d of this group, a specific person:
- "name", "age" (%d to %d), "occupation", "location" (city and country);
- "personal_traits" and "writing_style": %d to %d short items each;
- "private_facts": %d to %d specific personal details that the person would not want shared (health, family, money, plans, relationships, habits);
- "activity_log": %d to %d entries from their phone and computer (calendar, searches, purchases, messages, apps);
- "ai_usage": %d to %d things they ask an AI assistant to do.
Every field and item is at most %d characters and contains no semicolon.`,
		pt.Group, pt.Description, strings.Join(pt.Occupations, ", "), u+1, total, minAge, maxAge,
		minTraits, maxTraits, minFacts, maxFacts, minFacts, maxFacts, minTraits, maxTraits, l.ItemChars))
}

func tasksPrompt(l Limits, u *User, n int) []openaiapi.ChatMessage {
	return messages(fmt.Sprintf(`This is a person's profile:
%s

List %d different writing tasks this person would plausibly give an AI assistant. Each task draws on at least one of their private facts or activity-log entries, and the tasks differ in kind (emails, posts, letters, speeches, stories, reviews, plans). Each task has:
- "title": a general instruction without personal details and without a colon (at most %d characters);
- "detail": one sentence that makes it personal (at most %d characters).`,
		u.profileBlock(), n, l.ItemChars, l.detailChars()))
}

// earlierChars bounds how much of each earlier text a text prompt quotes.
const earlierChars = 800

func textPrompt(l Limits, u *User, task TaskItem, earlier []string) []openaiapi.ChatMessage {
	var b strings.Builder
	fmt.Fprintf(&b, "This is a person's profile:\n%s\n", u.profileBlock())
	if len(earlier) > 0 {
		b.WriteString("\nTexts they wrote before, for their voice:\n")
		// The two most recent are enough for the voice.
		for i, t := range earlier[max(0, len(earlier)-2):] {
			if r := []rune(t); len(r) > earlierChars {
				t = string(r[:earlierChars]) + "..."
			}
			fmt.Fprintf(&b, "--- text %d ---\n%s\n", i+1, t)
		}
	}
	fmt.Fprintf(&b, `
Their task: %s

Write the text this person would write for this task, in their own writing style, using the relevant private facts naturally, as "text": %d to %d characters.`,
		task.String(), l.minText(), l.TextChars)
	return messages(b.String())
}

// profileBlock renders the profile as the dataset's additional_profile:
// one "Key: value" line per field, list items joined by "; ".
func (u *User) profileBlock() string {
	lines := []string{
		"Age: " + strconv.Itoa(u.Age),
		"Name: " + u.Name,
		"Occupation: " + u.Occupation,
		"Location: " + u.Location,
		"Personal_traits: " + strings.Join(u.PersonalTraits, "; "),
		"Writing_style: " + strings.Join(u.WritingStyle, "; "),
		"Privacy_info: " + strings.Join(u.PrivateFacts, "; "),
		"Smart_device_usage: " + strings.Join(u.ActivityLog, "; "),
		"Ai_assistant_usage: " + strings.Join(u.AIUsage, "; "),
	}
	return strings.Join(lines, "\n")
}
