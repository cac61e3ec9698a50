-- posts
CREATE TABLE posts (id uuid PRIMARY KEY);
