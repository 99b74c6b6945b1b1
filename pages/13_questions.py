"""All questions: search the whole bank by topic, difficulty and words."""
import ui

ui.questions_browser()
