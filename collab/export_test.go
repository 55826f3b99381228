package collab

// LocalPromptTokens is the with-context prompt the local model evaluates
// for task, for benchmarks that compare against the bare engine.
func LocalPromptTokens(r *Runner, task Task) ([]int32, error) {
	return r.chatTokens(systemFor(task.Kind), task.privateInstruction())
}

// ContextPrompt is LocalPromptTokens and the length of its context prefix
// (what saved states keep).
func ContextPrompt(r *Runner, task Task) ([]int32, int, error) {
	return r.privateTokens(systemFor(task.Kind), task.privateInstruction())
}
