"""The Salesforce connector: pull Task/VoiceCall calls and the people they name into the
call log, and write each person's insights back to their Contact and Lead records."""
