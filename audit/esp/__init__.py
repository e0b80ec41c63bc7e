"""Email service provider profiles (data files with their documentation sources) and the
detection of the providers a domain's DNS shows it uses."""
