-- users
CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid());
