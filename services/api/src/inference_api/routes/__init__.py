"""HTTP routes: thin functions that parse, call one piece of logic and shape the answer."""
