-- Filter statistics, kept per hour so a retention setting can drop old hours
-- and a report can sum any range. hour is unix seconds, UTC, a multiple of 3600.
-- Profiles and devices are ids from the filter's configuration, not names.

-- Queries and blocked queries per (hour, profile, device).
CREATE TABLE filter_stats_hourly (
    hour    BIGINT NOT NULL,
    profile TEXT   NOT NULL,
    device  TEXT   NOT NULL,
    queries BIGINT NOT NULL DEFAULT 0,
    blocked BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, profile, device)
);
CREATE INDEX filter_stats_hourly_profile ON filter_stats_hourly (profile, device, hour);

-- Blocked queries per category.
CREATE TABLE filter_stats_category (
    hour     BIGINT NOT NULL,
    profile  TEXT   NOT NULL,
    device   TEXT   NOT NULL,
    category TEXT   NOT NULL,
    blocked  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, profile, device, category)
);
CREATE INDEX filter_stats_category_profile ON filter_stats_category (profile, device, hour);

-- Queries per domain; domain '(other)' holds what the recorder could not track
-- by name within its per-flush memory bound.
CREATE TABLE filter_stats_domain (
    hour    BIGINT NOT NULL,
    profile TEXT   NOT NULL,
    device  TEXT   NOT NULL,
    domain  TEXT   NOT NULL,
    queries BIGINT NOT NULL DEFAULT 0,
    blocked BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, profile, device, domain)
);
CREATE INDEX filter_stats_domain_profile ON filter_stats_domain (profile, device, hour);
