<?php
/**
 * Uninstall: deletes the plugin's options (on every site of a network) when the plugin is deleted.
 *
 * @package AI_Assistant
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Deletes the options of the current site.
 */
function ai_assistant_delete_options() {
	delete_option( 'ai_assistant_settings' );
	delete_option( 'ai_assistant_api_key' );
	delete_option( 'widget_ai_assistant' );
	delete_transient( 'ai_assistant_connection' );
}

if ( is_multisite() ) {
	$ai_assistant_sites = get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	);
	foreach ( $ai_assistant_sites as $ai_assistant_site_id ) {
		switch_to_blog( $ai_assistant_site_id );
		ai_assistant_delete_options();
		restore_current_blog();
	}
} else {
	ai_assistant_delete_options();
}
