"""The HTTP surface: dependencies (`deps`) and one router per resource (`routes`)."""
