"""The run sequence (plan -> parse -> score -> publish, ``pipeline.run``) that the Prefect flows wire
as tasks, and a command's process lifecycle (stop signals, temporary servers).
"""
