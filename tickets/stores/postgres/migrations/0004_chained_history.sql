-- 4: a history that proves itself (tickets/engine/chain.py, docs/history.md). Every comment and event carries a
-- digest chained to the record before it, computed in the statement that adds the event: after the event lock,
-- tickets_last_digest() reads the last event's digest with a snapshot of its own (a volatile function), so it
-- sees the event committed just before, which the statement's own snapshot, taken before the lock, may not.
-- A comment deleted with its ticket leaves its digest in erased_comments. The rows written before get their
-- digests here, in the chain's order.
-- Frozen: this file ran on databases in use. Never edit it; add the next numbered file.
CREATE FUNCTION tickets_comment_bytes(
    id bigint, ticket_id bigint, author text, body text, internal boolean, created_at text
) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT convert_to('{"id":' || id || ',"ticket_id":' || ticket_id || ',"author":' || to_json(author)::text
        || ',"body":' || to_json(body)::text || ',"internal":' || internal::text
        || ',"created_at":' || to_json(created_at)::text || '}', 'UTF8')
$$;
CREATE FUNCTION tickets_event_bytes(
    id bigint, ticket_id bigint, at text, actor text, type text, changes json
) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT convert_to('{"id":' || id || ',"ticket_id":' || ticket_id || ',"at":' || to_json(at)::text
        || ',"actor":' || coalesce(to_json(actor)::text, 'null') || ',"type":' || to_json(type)::text
        || ',"changes":' || changes::text || '}', 'UTF8')
$$;
CREATE FUNCTION tickets_erased_bytes(id bigint, ticket_id bigint) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT convert_to('{"id":' || id || ',"ticket_id":' || ticket_id || '}', 'UTF8')
$$;

ALTER TABLE comments ADD COLUMN digest bytea;
ALTER TABLE events ADD COLUMN digest bytea;
CREATE TABLE erased_comments (
    id bigint PRIMARY KEY,
    ticket_id bigint NOT NULL,
    digest bytea
);
CREATE FUNCTION tickets_keep_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO erased_comments (id, ticket_id, digest) VALUES (OLD.id, OLD.ticket_id, OLD.digest);
    RETURN OLD;
END
$$;
CREATE TRIGGER comments_keep_erased AFTER DELETE ON comments FOR EACH ROW EXECUTE FUNCTION tickets_keep_erased();
-- The chain's head: the last event's digest (a comment is always followed by its event in its statement).
CREATE FUNCTION tickets_last_digest() RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN coalesce((SELECT digest FROM events ORDER BY id DESC LIMIT 1), decode(repeat('00', 32), 'hex'));
END
$$;

-- The `commented` events written before were built by json_build_object, with spaces: written again compact.
UPDATE events SET changes = ('{"comment_id":{"from":null,"to":' || (changes -> 'comment_id' ->> 'to') || '}}')::json
WHERE type = 'commented';

DO $$
DECLARE
    d bytea := decode(repeat('00', 32), 'hex');
    e record;
    c record;
    named bigint;
BEGIN
    FOR c IN SELECT * FROM comments WHERE id NOT IN (
        SELECT (changes -> 'comment_id' ->> 'to')::bigint FROM events WHERE type = 'commented'
    ) ORDER BY id LOOP
        d := sha256(d || tickets_comment_bytes(c.id, c.ticket_id, c.author, c.body, c.internal, c.created_at));
        UPDATE comments SET digest = d WHERE id = c.id;
    END LOOP;
    FOR e IN SELECT * FROM events ORDER BY id LOOP
        IF e.type = 'commented' THEN
            named := (e.changes -> 'comment_id' ->> 'to')::bigint;
            SELECT * INTO c FROM comments WHERE id = named;
            IF FOUND THEN
                d := sha256(d || tickets_comment_bytes(c.id, c.ticket_id, c.author, c.body, c.internal, c.created_at));
                UPDATE comments SET digest = d WHERE id = c.id;
            ELSE  -- deleted with its ticket before this version: chained over its id and its ticket's
                d := sha256(d || tickets_erased_bytes(named, e.ticket_id));
                INSERT INTO erased_comments (id, ticket_id, digest) VALUES (named, e.ticket_id, d);
            END IF;
        END IF;
        d := sha256(d || tickets_event_bytes(e.id, e.ticket_id, e.at, e.actor, e.type, e.changes));
        UPDATE events SET digest = d WHERE id = e.id;
    END LOOP;
END
$$;
