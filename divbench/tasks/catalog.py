"""Built-in tasks: name -> "module:attribute" of the Task class (imported lazily)."""

TASKS: dict[str, str] = {
    "dialogue": "divbench.tasks.dialogue:DialogueTask",
    "story": "divbench.tasks.story:StoryTask",
    "persona": "divbench.tasks.persona:PersonaTask",
    "choice_numbers": "divbench.tasks.random_choice:ChoiceNumbers",
    "choice_names": "divbench.tasks.random_choice:ChoiceNames",
    "choice_fruits": "divbench.tasks.random_choice:ChoiceFruits",
    "choice_occupations": "divbench.tasks.random_choice:ChoiceOccupations",
    "choice_countries": "divbench.tasks.random_choice:ChoiceCountries",
    "choice_days": "divbench.tasks.random_choice:ChoiceDays",
    "choice_dates": "divbench.tasks.random_choice:ChoiceDates",
}
