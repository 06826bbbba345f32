-- A session that hits 10,000 errors on each side of the boundary neither
-- crashes nor grows in memory.
CREATE EXTENSION plinth;
CREATE EXTENSION plinth_test;

CREATE FUNCTION hit_errors(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE caught int := 0;
BEGIN
  FOR i IN 1..n LOOP
    BEGIN
      IF i % 2 = 0 THEN
        PERFORM plinth_test_raise('40001', 'conflict ' || i);
      ELSE
        PERFORM plinth_test_parse_int4('not a number ' || i);
      END IF;
    EXCEPTION WHEN serialization_failure OR invalid_text_representation THEN
      caught := caught + 1;
    END;
  END LOOP;
  RETURN caught;
END $$;

-- Warm up (first use allocates caches), then measure.
SELECT hit_errors(2000);
SELECT plinth_test_backend_rss() AS rss_before \gset
SELECT hit_errors(10000);
SELECT plinth_test_backend_rss() AS rss_after \gset
-- Under 512 kB of growth across 10,000 errors: a leak of 50 bytes per error
-- would exceed it.
SELECT CASE WHEN :rss_after - :rss_before < 512 THEN 'flat'
            ELSE 'grew by ' || (:rss_after - :rss_before) || ' kB' END AS rss;

-- Errors at the top level of the session, too.
SELECT plinth_test_raise('40001', 'top level');
SELECT plinth_test_parse_int4('top level');
SELECT 'alive' AS session;

DROP FUNCTION hit_errors(int);
DROP EXTENSION plinth_test;
DROP EXTENSION plinth;
