"""Loading the extension: what a server without the preload says."""


def test_create_extension_without_preload(ctx):
    s = ctx.server("nopreload", preload=False).start()
    rc, out, err = s.psql("CREATE EXTENSION plinth;", check=False)
    assert rc != 0, "CREATE EXTENSION must fail without the preload"
    assert "plinth must be loaded via shared_preload_libraries" in err, err
    assert "shared_preload_libraries = 'plinth'" in err, err
    # Nothing was created.
    assert s.query("SELECT count(*) FROM pg_extension WHERE extname = 'plinth'") == "0"


def test_preloaded_server_restarts(ctx):
    s = ctx.server("preload").start()
    s.psql("CREATE EXTENSION plinth;")
    assert s.query("SELECT plinth_version() IS NOT NULL") == "t"
    s.stop()
    s.start()
    assert s.query("SELECT extname FROM pg_extension WHERE extname = 'plinth'") == "plinth"
