"""An embedded AWS for tests and the drill: moto plus fakes for what moto lacks."""
