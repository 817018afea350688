DROP TABLE event_participants;
DROP TABLE events;
DROP TABLE agreement_countries;
DROP TABLE agreement_parties;
DROP TABLE agreements;
DROP TABLE partners;
