-- created role nova_analytics_svc
CREATE ROLE "nova_analytics_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_analytics_svc';
-- created database nova_analytics owned by nova_analytics_svc
CREATE DATABASE "nova_analytics" OWNER "nova_analytics_svc";
-- revoked PUBLIC's privileges on nova_analytics
REVOKE ALL ON DATABASE "nova_analytics" FROM PUBLIC;
-- created role nova_auth_svc
CREATE ROLE "nova_auth_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_auth_svc';
-- created database nova_auth owned by nova_auth_svc
CREATE DATABASE "nova_auth" OWNER "nova_auth_svc";
-- revoked PUBLIC's privileges on nova_auth
REVOKE ALL ON DATABASE "nova_auth" FROM PUBLIC;
-- created role nova_content_svc
CREATE ROLE "nova_content_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_content_svc';
-- created database nova_content owned by nova_content_svc
CREATE DATABASE "nova_content" OWNER "nova_content_svc";
-- revoked PUBLIC's privileges on nova_content
REVOKE ALL ON DATABASE "nova_content" FROM PUBLIC;
-- created role nova_feature_store_svc
CREATE ROLE "nova_feature_store_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_feature_store_svc';
-- created database nova_feature_store owned by nova_feature_store_svc
CREATE DATABASE "nova_feature_store" OWNER "nova_feature_store_svc";
-- revoked PUBLIC's privileges on nova_feature_store
REVOKE ALL ON DATABASE "nova_feature_store" FROM PUBLIC;
-- created role nova_feed_svc
CREATE ROLE "nova_feed_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_feed_svc';
-- created database nova_feed owned by nova_feed_svc
CREATE DATABASE "nova_feed" OWNER "nova_feed_svc";
-- revoked PUBLIC's privileges on nova_feed
REVOKE ALL ON DATABASE "nova_feed" FROM PUBLIC;
-- created role nova_graph_svc
CREATE ROLE "nova_graph_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_graph_svc';
-- created database nova_graph owned by nova_graph_svc
CREATE DATABASE "nova_graph" OWNER "nova_graph_svc";
-- revoked PUBLIC's privileges on nova_graph
REVOKE ALL ON DATABASE "nova_graph" FROM PUBLIC;
-- created role nova_identity_svc
CREATE ROLE "nova_identity_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_identity_svc';
-- created database nova_identity owned by nova_identity_svc
CREATE DATABASE "nova_identity" OWNER "nova_identity_svc";
-- revoked PUBLIC's privileges on nova_identity
REVOKE ALL ON DATABASE "nova_identity" FROM PUBLIC;
-- created role nova_media_svc
CREATE ROLE "nova_media_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_media_svc';
-- created database nova_media owned by nova_media_svc
CREATE DATABASE "nova_media" OWNER "nova_media_svc";
-- revoked PUBLIC's privileges on nova_media
REVOKE ALL ON DATABASE "nova_media" FROM PUBLIC;
-- created role nova_messaging_svc
CREATE ROLE "nova_messaging_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_messaging_svc';
-- created database nova_messaging owned by nova_messaging_svc
CREATE DATABASE "nova_messaging" OWNER "nova_messaging_svc";
-- revoked PUBLIC's privileges on nova_messaging
REVOKE ALL ON DATABASE "nova_messaging" FROM PUBLIC;
-- created role nova_notification_svc
CREATE ROLE "nova_notification_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_notification_svc';
-- created database nova_notification owned by nova_notification_svc
CREATE DATABASE "nova_notification" OWNER "nova_notification_svc";
-- revoked PUBLIC's privileges on nova_notification
REVOKE ALL ON DATABASE "nova_notification" FROM PUBLIC;
-- created role nova_ranking_svc
CREATE ROLE "nova_ranking_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_ranking_svc';
-- created database nova_ranking owned by nova_ranking_svc
CREATE DATABASE "nova_ranking" OWNER "nova_ranking_svc";
-- revoked PUBLIC's privileges on nova_ranking
REVOKE ALL ON DATABASE "nova_ranking" FROM PUBLIC;
-- created role nova_realtime_chat_svc
CREATE ROLE "nova_realtime_chat_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_realtime_chat_svc';
-- created database nova_realtime_chat owned by nova_realtime_chat_svc
CREATE DATABASE "nova_realtime_chat" OWNER "nova_realtime_chat_svc";
-- revoked PUBLIC's privileges on nova_realtime_chat
REVOKE ALL ON DATABASE "nova_realtime_chat" FROM PUBLIC;
-- created role nova_search_svc
CREATE ROLE "nova_search_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_search_svc';
-- created database nova_search owned by nova_search_svc
CREATE DATABASE "nova_search" OWNER "nova_search_svc";
-- revoked PUBLIC's privileges on nova_search
REVOKE ALL ON DATABASE "nova_search" FROM PUBLIC;
-- created role nova_trust_safety_svc
CREATE ROLE "nova_trust_safety_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_trust_safety_svc';
-- created database nova_trust_safety owned by nova_trust_safety_svc
CREATE DATABASE "nova_trust_safety" OWNER "nova_trust_safety_svc";
-- revoked PUBLIC's privileges on nova_trust_safety
REVOKE ALL ON DATABASE "nova_trust_safety" FROM PUBLIC;
-- created role nova_user_svc
CREATE ROLE "nova_user_svc" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'pw-nova_user_svc';
-- created database nova_user owned by nova_user_svc
CREATE DATABASE "nova_user" OWNER "nova_user_svc";
-- revoked PUBLIC's privileges on nova_user
REVOKE ALL ON DATABASE "nova_user" FROM PUBLIC;
-- revoked PUBLIC's CONNECT on "postgres", "template1"
REVOKE CONNECT ON DATABASE "postgres", "template1" FROM PUBLIC;
-- in nova_auth: created extension uuid-ossp in nova_auth
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
-- in nova_auth: created extension pgcrypto in nova_auth
CREATE EXTENSION IF NOT EXISTS "pgcrypto";
