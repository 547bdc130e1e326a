<?php
/**
 * Installs WordPress without a browser, for the end-to-end tests:
 *
 *     WP_URL=http://127.0.0.1:PORT WP_DB_NAME=wp_xxx WP_ADMIN_PASSWORD=… php setup.php WORDPRESS_DIR
 *
 * creates the database when missing, runs wp_install() (the admin user, WP_ADMIN_USER or "admin", with
 * WP_ADMIN_PASSWORD), activates the plugins named in WP_PLUGINS (comma-separated, default
 * ai-assistant/ai-assistant.php), turns off avatars and update checks (the tests run offline), and sets pretty
 * permalinks (/%postname%/). Prints one JSON line: {url, admin, plugins, permalinks}. Exits 1 on failure, with
 * the reason on stderr.
 *
 *     WP_DB_NAME=wp_xxx php setup.php --drop-database
 *
 * drops the database afterwards. The database settings are those of wp-config.php.template (WP_DB_HOST, WP_DB_USER,
 * WP_DB_PASSWORD), and the same environment must be given to `php -S`.
 *
 * Only the require of wp-load.php runs at the global scope, where WordPress expects it; the rest is in functions,
 * so that no variable of this script meets one of WordPress's globals.
 *
 * @package AI_Assistant
 */

if ( 'cli' !== PHP_SAPI ) {
	exit( 1 );
}

/**
 * Prints the message on stderr and exits 1.
 *
 * @param string $message What went wrong.
 */
function concierge_setup_fail( $message ) {
	fwrite( STDERR, "setup.php: $message\n" );
	exit( 1 );
}

/**
 * An environment variable, or the default when it is unset or empty.
 *
 * @param string      $name    The variable.
 * @param string|null $default The default (null: the variable is required).
 */
function concierge_setup_env( $name, $default = null ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		if ( null === $default ) {
			concierge_setup_fail( "$name is not set" );
		}
		return $default;
	}
	return $value;
}

/**
 * Creates the database when missing, or drops it with --drop-database (and exits).
 *
 * @param array<int, string> $args The command line.
 */
function concierge_setup_database( array $args ) {
	$name = concierge_setup_env( 'WP_DB_NAME' );
	if ( ! preg_match( '/^[A-Za-z0-9_]{1,64}$/', $name ) ) {
		concierge_setup_fail( "WP_DB_NAME=$name: letters, digits and _ only" );
	}
	$address = concierge_setup_env( 'WP_DB_HOST', '127.0.0.1:3306' );
	$parts   = array_pad( explode( ':', $address, 2 ), 2, '3306' );
	mysqli_report( MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT );
	try {
		$mysql = new mysqli( $parts[0], concierge_setup_env( 'WP_DB_USER', 'root' ), concierge_setup_env( 'WP_DB_PASSWORD', '' ), '', (int) $parts[1] );
		if ( in_array( '--drop-database', $args, true ) ) {
			$mysql->query( "DROP DATABASE IF EXISTS `$name`" );
			echo json_encode( array( 'dropped' => $name ) ), "\n";
			exit( 0 );
		}
		$mysql->query( "CREATE DATABASE IF NOT EXISTS `$name` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" );
		$mysql->close();
	} catch ( mysqli_sql_exception $e ) {
		concierge_setup_fail( "MariaDB at $address: " . $e->getMessage() );
	}
}

/**
 * The WordPress directory (first argument, else WP_DIR), after setting what a web request of WP_URL would have in
 * $_SERVER: WordPress reads it while it loads.
 *
 * @param array<int, string> $args The command line.
 * @return string The directory.
 */
function concierge_setup_prepare( array $args ) {
	$dir = rtrim( $args[1] ?? concierge_setup_env( 'WP_DIR' ), '/' );
	if ( ! is_file( "$dir/wp-load.php" ) || ! is_file( "$dir/wp-config.php" ) ) {
		concierge_setup_fail( "$dir has no wp-load.php or wp-config.php" );
	}
	$url = parse_url( concierge_setup_env( 'WP_URL' ) );
	if ( empty( $url['host'] ) ) {
		concierge_setup_fail( 'WP_URL is not a URL' );
	}
	$_SERVER['HTTP_HOST']       = $url['host'] . ( isset( $url['port'] ) ? ':' . $url['port'] : '' );
	$_SERVER['SERVER_NAME']     = $url['host'];
	$_SERVER['SERVER_PORT']     = (string) ( $url['port'] ?? 80 );
	$_SERVER['REQUEST_URI']     = '/wp-admin/install.php';
	$_SERVER['REQUEST_METHOD']  = 'GET';
	$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
	$_SERVER['HTTPS']           = 'off';
	return $dir;
}

/**
 * Installs the site, activates the plugins, sets the permalinks; prints the JSON summary.
 */
function concierge_setup_install() {
	global $wp_rewrite;

	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	require_once ABSPATH . 'wp-admin/includes/plugin.php';

	// No mail server: the "new site" e-mail is dropped.
	add_filter( 'pre_wp_mail', '__return_true' );

	if ( is_blog_installed() ) {
		concierge_setup_fail( 'WordPress is already installed in the database ' . DB_NAME );
	}
	$user      = concierge_setup_env( 'WP_ADMIN_USER', 'admin' );
	$installed = wp_install(
		'Concierge test shop',
		$user,
		concierge_setup_env( 'WP_ADMIN_EMAIL', 'admin@example.test' ),
		true,
		'',
		wp_slash( concierge_setup_env( 'WP_ADMIN_PASSWORD' ) )
	);
	if ( empty( $installed['user_id'] ) ) {
		concierge_setup_fail( 'wp_install() did not create the admin user' );
	}

	// The rest as on a request of the installed site, by its admin.
	wp_installing( false );
	wp_cache_flush();
	wp_set_current_user( $installed['user_id'] );

	$plugins = array_filter( array_map( 'trim', explode( ',', concierge_setup_env( 'WP_PLUGINS', 'ai-assistant/ai-assistant.php' ) ) ) );
	foreach ( $plugins as $plugin ) {
		$result = activate_plugin( $plugin );
		if ( is_wp_error( $result ) ) {
			concierge_setup_fail( "activating $plugin: " . $result->get_error_message() );
		}
	}

	// No requests to gravatar.com from the pages, and no update checks for 12 hours (WP_HTTP_BLOCK_EXTERNAL would
	// turn those checks into PHP warnings in the debug log).
	update_option( 'show_avatars', 0 );
	$checked = (object) array(
		'last_checked'    => time(),
		'version_checked' => get_bloginfo( 'version' ),
		'updates'         => array(),
		'response'        => array(),
		'translations'    => array(),
	);
	foreach ( array( 'update_core', 'update_plugins', 'update_themes' ) as $transient ) {
		set_site_transient( $transient, $checked );
	}

	$wp_rewrite->set_permalink_structure( '/%postname%/' );
	flush_rewrite_rules( false );

	echo wp_json_encode(
		array(
			'url'        => home_url( '/' ),
			'admin'      => $user,
			'plugins'    => get_option( 'active_plugins' ),
			'permalinks' => get_option( 'permalink_structure' ),
		)
	), "\n";
}

concierge_setup_database( $argv );
define( 'WP_INSTALLING', true );
require concierge_setup_prepare( $argv ) . '/wp-load.php';
concierge_setup_install();
