<?php
/**
 * Plugin Name:       AI Assistant by Concierge
 * Description:       Adds the Concierge AI customer-service chat widget to your site: on every page, or where you put the [ai_assistant] shortcode, the AI Assistant block or widget.
 * Version:           1.0.0
 * Requires at least: 6.1
 * Requires PHP:      8.0
 * Author:            Concierge
 * License:           Apache-2.0
 * License URI:       https://www.apache.org/licenses/LICENSE-2.0
 * Text Domain:       ai-assistant
 *
 * @package AI_Assistant
 */

defined( 'ABSPATH' ) || exit;

define( 'AI_ASSISTANT_VERSION', '1.0.0' );
define( 'AI_ASSISTANT_FILE', __FILE__ );
define( 'AI_ASSISTANT_DIR', plugin_dir_path( __FILE__ ) );

require_once AI_ASSISTANT_DIR . 'includes/class-settings.php';
require_once AI_ASSISTANT_DIR . 'includes/class-client.php';
require_once AI_ASSISTANT_DIR . 'includes/class-embed.php';
require_once AI_ASSISTANT_DIR . 'includes/class-widget.php';
require_once AI_ASSISTANT_DIR . 'includes/class-admin.php';
require_once AI_ASSISTANT_DIR . 'includes/class-plugin.php';

register_activation_hook( __FILE__, array( 'Concierge\AI_Assistant\Plugin', 'activate' ) );

Concierge\AI_Assistant\Plugin::instance()->register();
