-- Which reference data the service has loaded, and from which release: the countries' names
-- in the hub's languages are added once per release, not at every start.
CREATE TABLE reference_data (
    name TEXT PRIMARY KEY NOT NULL,
    version TEXT NOT NULL
);
