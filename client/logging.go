package client

import (
	"context"
	"log/slog"
	"strings"
)

// logFunctionLines logs the log lines a function printed, through the
// client's logger at level Info, as the official client prints them
// (convex-js logging.ts logForFunction): a line "[LOG] 'text'" of the query
// messages:list becomes "[CONVEX Q(messages:list)] [LOG] 'text'". M marks
// mutations and A actions. A line without a leading "[LEVEL] " is logged
// at level Error as unparseable, with the line as an attribute.
func (c *Client) logFunctionLines(kind, path string, lines []string) {
	logFunctionLines(c.log, kind, path, lines)
}

func logFunctionLines(log *slog.Logger, kind, path string, lines []string) {
	if len(lines) == 0 || !log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	prefix := "[CONVEX " + kindLetter(kind) + "(" + path + ")] "
	for _, line := range lines {
		level, rest, ok := splitLogLevel(line)
		if !ok {
			log.Error(prefix+"Could not parse console.log", "line", line)
			continue
		}
		log.Info(prefix + "[" + level + "] " + rest)
	}
}

// splitLogLevel splits "[LEVEL] rest" at the first "] ".
func splitLogLevel(line string) (level, rest string, ok bool) {
	if !strings.HasPrefix(line, "[") {
		return "", "", false
	}
	i := strings.Index(line, "] ")
	if i < 0 {
		return "", "", false
	}
	return line[1:i], line[i+2:], true
}

func kindLetter(kind string) string {
	switch kind {
	case "query":
		return "Q"
	case "mutation":
		return "M"
	case "action":
		return "A"
	}
	return "?"
}
