package classify

// Merge joins results about the same thing from different looks (a page's text, its host's
// name and list category): each category's score is the highest any result gave it, the
// reasons are all kept in order, and the top category is chosen again from the joined scores
// with c's thresholds. Truncated holds when any result was truncated.
func (c *Classifier) Merge(rs ...Result) Result {
	out := Result{Scores: map[string]float64{}, Reasons: []Reason{}}
	for _, r := range rs {
		for k, s := range r.Scores {
			if cur, ok := out.Scores[k]; !ok || s > cur {
				out.Scores[k] = s
			}
		}
		out.Reasons = append(out.Reasons, r.Reasons...)
		out.Truncated = out.Truncated || r.Truncated
	}
	out.Top = c.top(out.Scores)
	return out
}
