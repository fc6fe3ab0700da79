package main

// itOrThem refers back to one name or several.
func itOrThem(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}
