-- created owner role nova_analytics_owner (cannot log in)
CREATE ROLE "nova_analytics_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_analytics_svc
CREATE ROLE "nova_analytics_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$VjOeh7e/0NcuR37Nw2pcCLUKLiVwxzU+klL7ydAbW74=:piL12JmkNhU/EjwyVjDNBu/BceMu6UgYo07lSyCu71Y=';
-- created owner role nova_auth_owner (cannot log in)
CREATE ROLE "nova_auth_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_auth_svc
CREATE ROLE "nova_auth_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$917LH1zGupfQhD1rJb8/+IefwN+TQARezeGvTraoY6k=:nONE433M4xZXGyCDqeCYG52dq5Il3wNXmFDgGtbryo0=';
-- created owner role nova_content_owner (cannot log in)
CREATE ROLE "nova_content_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_content_svc
CREATE ROLE "nova_content_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$ULX6StaXs5PYlwaVnU52jpRgLzek832VO5cIXThA3Bg=:ZAVBh8D2XxM+7zg3EuB0AH+dpIfuEmrswNCTguSbZ7c=';
-- created owner role nova_feature_store_owner (cannot log in)
CREATE ROLE "nova_feature_store_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_feature_store_svc
CREATE ROLE "nova_feature_store_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$5rMT/Vt3BxYh3cMHBxsL4J8oGWXcivAxDBclTkY632Y=:nau7bwjxx0SmW0dvmTyNccDGhlD7IiyT2UXnoiIGkcc=';
-- created owner role nova_feed_owner (cannot log in)
CREATE ROLE "nova_feed_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_feed_svc
CREATE ROLE "nova_feed_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$cXXlTcpkNsM212Wa1LVZJhRV7ucrVzt6TS/W7T7nu3c=:JuFGkHvNRP+Q8Ct8BXclMJSVpARbbmnZbgzlBfGNhq4=';
-- created owner role nova_graph_owner (cannot log in)
CREATE ROLE "nova_graph_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_graph_svc
CREATE ROLE "nova_graph_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$yOTVosr7jrsYzf4jI34G1L2uniNVa+3B3omeZ9/ImJM=:b/89CISAf6Bi7gE3lJJedo08KL5NU1MIIc90fL/2MEc=';
-- created owner role nova_identity_owner (cannot log in)
CREATE ROLE "nova_identity_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_identity_svc
CREATE ROLE "nova_identity_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$K7QVlkjlIBmNLKky2YjNCfMnKIpdO/EHhGSrB/NSoWM=:TXuC6+VS85F2W8p6dXFrzuUphU+YrSAwh3il4W2DIlI=';
-- created owner role nova_media_owner (cannot log in)
CREATE ROLE "nova_media_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_media_svc
CREATE ROLE "nova_media_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$qERbjCyzg0p4+gd2otQbO8VhmS92WFYY+4uYU6iGPvI=:03+DKS+9/vHlrgobGrh2V4NPTkyNf5bU3Vy9Cf5ahHQ=';
-- created owner role nova_messaging_owner (cannot log in)
CREATE ROLE "nova_messaging_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_messaging_svc
CREATE ROLE "nova_messaging_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$VIipIyh7i3p1+oaScUvZ+u9tLk/tiEUFtuCEP6KG0iE=:dOJdfVACgXammDy48scDS6JPjWf7mPQD9aKxC7PWDn4=';
-- created owner role nova_notification_owner (cannot log in)
CREATE ROLE "nova_notification_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_notification_svc
CREATE ROLE "nova_notification_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$m7hEqa2HGGBP3t1AWECoSxF/Gz9eKbSbH+KHKr34ztU=:/QpaXE58htEETB7Vmr9xJCQ4LD9zpcZquXNiB9VVjTo=';
-- created owner role nova_ranking_owner (cannot log in)
CREATE ROLE "nova_ranking_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_ranking_svc
CREATE ROLE "nova_ranking_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$Pos61cChAbjVc+v9gpmhudWNTxV/WkH6x+T1dHLB+gI=:TkUrx2H3mcNOOJDxb787qOMwjVDP6ete1W7aPYystFg=';
-- created owner role nova_realtime_chat_owner (cannot log in)
CREATE ROLE "nova_realtime_chat_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_realtime_chat_svc
CREATE ROLE "nova_realtime_chat_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$5tYAQpBfLiIig0HgB1t2D3o37ZQ1d2R8uxIPhn7Snv4=:clLgBK0U2lpY/y9uN8UIN3bAp5727ozCZSASGhZD9Aw=';
-- created owner role nova_search_owner (cannot log in)
CREATE ROLE "nova_search_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_search_svc
CREATE ROLE "nova_search_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$7bvJj3w1FdvmMUWUpSePkMAydxLy5Bbh9zYdYgJhlrk=:/uXBfR0MLf2DreWjNTQ1xv3BpqJRe8PeyUirZ2K7sig=';
-- created owner role nova_trust_safety_owner (cannot log in)
CREATE ROLE "nova_trust_safety_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_trust_safety_svc
CREATE ROLE "nova_trust_safety_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$9yW9MT8D7Peo01TAyuJvEpj2iExESbRLV4WNE1rMyvM=:qwynna25rlr3buV+1oibHy4wlqQrVUYN+Xz1g1OLLLw=';
-- created owner role nova_user_owner (cannot log in)
CREATE ROLE "nova_user_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD NULL;
-- created role nova_user_svc
CREATE ROLE "nova_user_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD 'SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$vTL/tTFnRmrdW+klpeg2UdI7kHHlOcnM6grLhugqnN0=:/Ve2oK7oFNVWGnvt4LqLhpL1SsRs6LDof4LcpXrx4Fc=';
-- created database nova_analytics owned by nova_analytics_owner
CREATE DATABASE "nova_analytics" OWNER "nova_analytics_owner";
-- revoked PUBLIC's privileges on nova_analytics
REVOKE ALL ON DATABASE "nova_analytics" FROM PUBLIC;
-- granted CONNECT on nova_analytics to nova_analytics_svc
GRANT CONNECT ON DATABASE "nova_analytics" TO "nova_analytics_svc";
-- created database nova_auth owned by nova_auth_owner
CREATE DATABASE "nova_auth" OWNER "nova_auth_owner";
-- revoked PUBLIC's privileges on nova_auth
REVOKE ALL ON DATABASE "nova_auth" FROM PUBLIC;
-- granted CONNECT on nova_auth to nova_auth_svc
GRANT CONNECT ON DATABASE "nova_auth" TO "nova_auth_svc";
-- created database nova_content owned by nova_content_owner
CREATE DATABASE "nova_content" OWNER "nova_content_owner";
-- revoked PUBLIC's privileges on nova_content
REVOKE ALL ON DATABASE "nova_content" FROM PUBLIC;
-- granted CONNECT on nova_content to nova_content_svc
GRANT CONNECT ON DATABASE "nova_content" TO "nova_content_svc";
-- created database nova_feature_store owned by nova_feature_store_owner
CREATE DATABASE "nova_feature_store" OWNER "nova_feature_store_owner";
-- revoked PUBLIC's privileges on nova_feature_store
REVOKE ALL ON DATABASE "nova_feature_store" FROM PUBLIC;
-- granted CONNECT on nova_feature_store to nova_feature_store_svc
GRANT CONNECT ON DATABASE "nova_feature_store" TO "nova_feature_store_svc";
-- created database nova_feed owned by nova_feed_owner
CREATE DATABASE "nova_feed" OWNER "nova_feed_owner";
-- revoked PUBLIC's privileges on nova_feed
REVOKE ALL ON DATABASE "nova_feed" FROM PUBLIC;
-- granted CONNECT on nova_feed to nova_feed_svc
GRANT CONNECT ON DATABASE "nova_feed" TO "nova_feed_svc";
-- created database nova_graph owned by nova_graph_owner
CREATE DATABASE "nova_graph" OWNER "nova_graph_owner";
-- revoked PUBLIC's privileges on nova_graph
REVOKE ALL ON DATABASE "nova_graph" FROM PUBLIC;
-- granted CONNECT on nova_graph to nova_graph_svc
GRANT CONNECT ON DATABASE "nova_graph" TO "nova_graph_svc";
-- created database nova_identity owned by nova_identity_owner
CREATE DATABASE "nova_identity" OWNER "nova_identity_owner";
-- revoked PUBLIC's privileges on nova_identity
REVOKE ALL ON DATABASE "nova_identity" FROM PUBLIC;
-- granted CONNECT on nova_identity to nova_identity_svc
GRANT CONNECT ON DATABASE "nova_identity" TO "nova_identity_svc";
-- created database nova_media owned by nova_media_owner
CREATE DATABASE "nova_media" OWNER "nova_media_owner";
-- revoked PUBLIC's privileges on nova_media
REVOKE ALL ON DATABASE "nova_media" FROM PUBLIC;
-- granted CONNECT on nova_media to nova_media_svc
GRANT CONNECT ON DATABASE "nova_media" TO "nova_media_svc";
-- created database nova_messaging owned by nova_messaging_owner
CREATE DATABASE "nova_messaging" OWNER "nova_messaging_owner";
-- revoked PUBLIC's privileges on nova_messaging
REVOKE ALL ON DATABASE "nova_messaging" FROM PUBLIC;
-- granted CONNECT on nova_messaging to nova_messaging_svc
GRANT CONNECT ON DATABASE "nova_messaging" TO "nova_messaging_svc";
-- created database nova_notification owned by nova_notification_owner
CREATE DATABASE "nova_notification" OWNER "nova_notification_owner";
-- revoked PUBLIC's privileges on nova_notification
REVOKE ALL ON DATABASE "nova_notification" FROM PUBLIC;
-- granted CONNECT on nova_notification to nova_notification_svc
GRANT CONNECT ON DATABASE "nova_notification" TO "nova_notification_svc";
-- created database nova_ranking owned by nova_ranking_owner
CREATE DATABASE "nova_ranking" OWNER "nova_ranking_owner";
-- revoked PUBLIC's privileges on nova_ranking
REVOKE ALL ON DATABASE "nova_ranking" FROM PUBLIC;
-- granted CONNECT on nova_ranking to nova_ranking_svc
GRANT CONNECT ON DATABASE "nova_ranking" TO "nova_ranking_svc";
-- created database nova_realtime_chat owned by nova_realtime_chat_owner
CREATE DATABASE "nova_realtime_chat" OWNER "nova_realtime_chat_owner";
-- revoked PUBLIC's privileges on nova_realtime_chat
REVOKE ALL ON DATABASE "nova_realtime_chat" FROM PUBLIC;
-- granted CONNECT on nova_realtime_chat to nova_realtime_chat_svc
GRANT CONNECT ON DATABASE "nova_realtime_chat" TO "nova_realtime_chat_svc";
-- created database nova_search owned by nova_search_owner
CREATE DATABASE "nova_search" OWNER "nova_search_owner";
-- revoked PUBLIC's privileges on nova_search
REVOKE ALL ON DATABASE "nova_search" FROM PUBLIC;
-- granted CONNECT on nova_search to nova_search_svc
GRANT CONNECT ON DATABASE "nova_search" TO "nova_search_svc";
-- created database nova_trust_safety owned by nova_trust_safety_owner
CREATE DATABASE "nova_trust_safety" OWNER "nova_trust_safety_owner";
-- revoked PUBLIC's privileges on nova_trust_safety
REVOKE ALL ON DATABASE "nova_trust_safety" FROM PUBLIC;
-- granted CONNECT on nova_trust_safety to nova_trust_safety_svc
GRANT CONNECT ON DATABASE "nova_trust_safety" TO "nova_trust_safety_svc";
-- created database nova_user owned by nova_user_owner
CREATE DATABASE "nova_user" OWNER "nova_user_owner";
-- revoked PUBLIC's privileges on nova_user
REVOKE ALL ON DATABASE "nova_user" FROM PUBLIC;
-- granted CONNECT on nova_user to nova_user_svc
GRANT CONNECT ON DATABASE "nova_user" TO "nova_user_svc";
-- revoked PUBLIC's CONNECT on "postgres", "template1"
REVOKE CONNECT ON DATABASE "postgres", "template1" FROM PUBLIC;
-- in nova_auth: created extension uuid-ossp in nova_auth
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
-- in nova_auth: created extension pgcrypto in nova_auth
CREATE EXTENSION IF NOT EXISTS "pgcrypto";
-- in nova_auth: default privileges: nova_auth_svc gets SELECT, INSERT, UPDATE, DELETE on nova_auth_owner's new tables in nova_auth
ALTER DEFAULT PRIVILEGES FOR ROLE "nova_auth_owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "nova_auth_svc";
-- in nova_auth: default privileges: nova_auth_svc gets USAGE, SELECT, UPDATE on nova_auth_owner's new sequences in nova_auth
ALTER DEFAULT PRIVILEGES FOR ROLE "nova_auth_owner" IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "nova_auth_svc";
